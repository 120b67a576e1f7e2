"""Procedural video datasets: item i is generated from (seed, split, i), never stored.

Each item draws its initial state from its own generator, numpy's SeedSequence of the triple
(seed, split, index), so that item i is the same clip on every call and every machine and the train
and test streams never coincide. ``sequence`` renders the same initial state for any number of
frames: the ground truth against which a rollout far beyond the clip length is compared
(Chen et al. 2024, Diffusion Forcing; Song et al. 2025, History-Guided Video Diffusion).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from genlab.core.lookup import lookup
from genlab.video.data.scene import Scene

SPLITS = {"train": 0, "test": 1}


def check_range(name: str, bounds: tuple[int, int], low: int) -> tuple[int, int]:
    """``bounds`` as an inclusive integer range (lo, hi) with low <= lo <= hi, or a ValueError."""
    lo, hi = bounds
    if not low <= lo <= hi:
        raise ValueError(f"{name} must be a range (lo, hi) with {low} <= lo <= hi, got {bounds}")
    return int(lo), int(hi)


def random_velocity(rng: np.random.Generator, n: int, speed: tuple[int, int]) -> torch.Tensor:
    """Integer velocities [n, 2] whose components have magnitude in ``speed`` and a random sign."""
    magnitude = rng.integers(speed[0], speed[1], size=(n, 2), endpoint=True)
    return torch.as_tensor(magnitude * rng.choice([-1, 1], size=(n, 2)))


def random_position(rng: np.random.Generator, limit: torch.Tensor) -> torch.Tensor:
    """Integer top-left corners [N, 2], uniform over the positions inside the box."""
    return torch.as_tensor(rng.integers(0, limit.numpy(), endpoint=True))


class ProceduralVideo(Dataset):
    """Clips [frames, C, size, size] in [-1, 1]; subclasses draw a ``Scene`` from a generator."""

    def __init__(self, split: str, frames: int, size: int, length: int, seed: int):
        self.split_id = lookup("split", split, SPLITS)
        if frames < 1 or length < 1 or size < 2:
            raise ValueError(f"need frames >= 1, length >= 1 and size >= 2, got {frames}, {length}, {size}")
        self.split, self.frames, self.size, self.length, self.seed = split, frames, size, length, seed

    def draw(self, rng: np.random.Generator) -> Scene:
        raise NotImplementedError

    def generator(self, index: int) -> np.random.Generator:
        """The generator that item ``index`` is drawn from: a function of (seed, split, index) only."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of {self.length} clips")
        return np.random.default_rng([self.seed, self.split_id, index])

    def scene(self, index: int) -> Scene:
        """The initial state of item ``index``."""
        return self.draw(self.generator(index))

    def sequence(self, index: int, frames: int) -> torch.Tensor:
        """Item ``index`` rendered for ``frames`` frames; its first ``self.frames`` are the clip."""
        return self.scene(index).render(frames)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.sequence(index, self.frames)

    def __len__(self) -> int:
        return self.length
