"""MNIST's IDX reader on small files written here in the same format (nothing is downloaded)."""

import struct

import numpy as np
import pytest
import torch

from genlab.core.data import load_mnist, read_idx


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_in_torchvision_layout(tmp_path, write_mnist, compress):
    arrays = write_mnist(tmp_path, compress=compress)
    for split, (images, labels) in arrays.items():
        data = load_mnist(tmp_path, split)
        assert data.levels.shape == (len(images), 1, 28, 28) and data.levels.dtype == torch.uint8
        assert np.array_equal(data.levels[:, 0].numpy(), images)
        assert np.array_equal(data.labels.numpy(), labels)
        assert data.images.max() <= 1 and torch.allclose(data.images * 255, data.levels.float())


def test_flat_folder_works_too(tmp_path, write_mnist):
    write_mnist(tmp_path)
    flat = tmp_path / "flat"
    (tmp_path / "MNIST" / "raw").rename(flat)
    assert len(load_mnist(flat, "test")) == 5


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="point root at the MNIST files"):
        load_mnist(tmp_path, "train")
    with pytest.raises(ValueError, match="unknown MNIST split"):
        load_mnist(tmp_path, "val")
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(ValueError, match="not unsigned byte"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00\x08\x02" + struct.pack(">II", 3, 4) + b"abc")  # 3 x 4 promised, 3 bytes
    with pytest.raises(ValueError, match="header promises shape"):
        read_idx(bad)


def test_mismatched_images_and_labels_are_refused(tmp_path, write_mnist, write_idx):
    write_mnist(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        load_mnist(tmp_path, "test")
