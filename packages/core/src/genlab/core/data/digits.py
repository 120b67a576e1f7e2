"""sklearn's handwritten digits (1797 images, 8x8, 17 grey levels) with a fixed split.

Shipped inside scikit-learn, so nothing is downloaded. The split is a seeded permutation: 1500
train / 297 test, the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

N_LEVELS = 17  # pixel values are the integers 0..16
N_TEST = 297


@dataclass(frozen=True)
class Digits:
    """``levels`` [N, 1, H, W] uint8 in 0..max_level (sklearn's 8x8 in 0..16), ``labels`` [N]; ``images``
    scales levels to [0, 1]."""

    levels: torch.Tensor
    labels: torch.Tensor
    max_level: int = N_LEVELS - 1

    @property
    def images(self) -> torch.Tensor:
        return self.levels.float() / self.max_level

    def __len__(self) -> int:
        return len(self.labels)


@lru_cache(maxsize=1)
def _all_digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits as sk_load

    bunch = sk_load()
    levels = torch.as_tensor(bunch.images, dtype=torch.uint8).reshape(-1, 1, 8, 8)
    return levels, torch.as_tensor(bunch.target, dtype=torch.long)


def load_digits(split: str = "train") -> Digits:
    """The ``train`` (1500) or ``test`` (297) split, or ``all`` 1797 digits."""
    levels, labels = _all_digits()
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    index = {"train": perm[N_TEST:], "test": perm[:N_TEST], "all": torch.arange(len(labels))}
    if split not in index:
        raise ValueError(f"unknown digits split {split!r}: use 'train', 'test' or 'all'")
    return Digits(levels[index[split]], labels[index[split]])
