"""Moving digits: a bounded, generated Moving MNIST (Srivastava et al. 2015) on sklearn's digits.

As in Moving MNIST, 1-2 digits move with constant velocity inside a box and bounce off its walls,
overlapping freely; here the digits are sklearn's 8x8 images (genlab.core.data.load_digits, train
digits for the train split and test digits for the test split) upsampled bilinearly, and the
dynamics live on the integer lattice (see ``physics``), so that long rollouts of Diffusion Forcing
(Chen et al. 2024) have an exact ground truth.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from genlab.core.data import load_digits
from genlab.video.data.base import ProceduralVideo, check_range, random_position, random_velocity
from genlab.video.data.scene import Scene


class MovingDigits(ProceduralVideo):
    """Clips [frames, 1, size, size] in [-1, 1] of ``digits`` = (lo, hi) bouncing digits.

    Each digit is ``digit_size`` pixels wide; each velocity component has a magnitude in ``speed``
    (pixels per frame, inclusive) and a random sign.
    """

    def __init__(
        self,
        split: str = "train",
        frames: int = 16,
        size: int = 32,
        digits: tuple[int, int] = (1, 2),
        digit_size: int = 16,
        speed: tuple[int, int] = (1, 3),
        length: int = 10_000,
        seed: int = 0,
    ):
        super().__init__(split, frames, size, length, seed)
        if not 1 <= digit_size < size:
            raise ValueError(f"digit_size must lie in [1, size) = [1, {size}), got {digit_size}")
        self.digits = check_range("digits", digits, 1)
        self.speed = check_range("speed", speed, 0)
        digits = load_digits(split)
        self.digit_labels = digits.labels
        self.sprites = F.interpolate(digits.images, size=(digit_size, digit_size), mode="bilinear").clamp(
            0, 1
        )[:, 0]

    def _pick(self, rng: np.random.Generator) -> np.ndarray:
        """The sprite indices of one scene (the first draws from its generator)."""
        n = int(rng.integers(self.digits[0], self.digits[1], endpoint=True))
        return rng.integers(0, len(self.sprites), size=n)

    def labels(self, index: int) -> torch.Tensor:
        """The classes (0-9) of the digits in item ``index``, [n]."""
        picked = self._pick(self.generator(index))
        return self.digit_labels[torch.as_tensor(picked, dtype=torch.long)]

    def draw(self, rng: np.random.Generator) -> Scene:
        picked = self._pick(rng)
        n = len(picked)
        alphas = tuple(self.sprites[int(i)] for i in picked)
        limit = torch.full((n, 2), self.size - alphas[0].shape[0])
        return Scene(
            size=self.size,
            colours=tuple(torch.ones(1, *a.shape) for a in alphas),
            alphas=alphas,
            position=random_position(rng, limit),
            velocity=random_velocity(rng, n, self.speed),
        )
