"""Shared by every genlab-core test."""

import gzip
import struct

import numpy as np
import pytest


def _write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def _write_mnist(root, n_train: int = 12, n_test: int = 5, compress: bool = False, seed: int = 0):
    """Random images and labels under torchvision's layout root/MNIST/raw; returns the arrays."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    suffix = ".gz" if compress else ""
    for split, stem, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        _write_idx(raw / f"{stem}-images-idx3-ubyte{suffix}", images, compress)
        _write_idx(raw / f"{stem}-labels-idx1-ubyte{suffix}", labels, compress)
        arrays[split] = images, labels
    return arrays


@pytest.fixture
def write_idx():
    """``write_idx(path, uint8 array, compress=False)``: an IDX file as MNIST's."""
    return _write_idx


@pytest.fixture
def write_mnist():
    """``write_mnist(root, n_train, n_test, compress, seed)``: random MNIST-format files under root/MNIST/raw."""
    return _write_mnist
