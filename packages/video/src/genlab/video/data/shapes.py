"""Bouncing coloured shapes: squares and discs with constant velocity, optional gravity, elastic walls.

The RGB counterpart of moving digits (Srivastava et al. 2015), for the rollout-stability study of
Diffusion Forcing (Chen et al. 2024) and History-Guided Video Diffusion (Song et al. 2025): colour
and shape must survive hundreds of generated frames. Objects are painted in order, later ones on
top. Train and test differ only in their seeds.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.video.data.base import ProceduralVideo, check_range, random_position, random_velocity
from genlab.video.data.scene import Scene

PALETTE = torch.tensor(
    [[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.25, 0.45, 1.0], [1.0, 0.9, 0.2], [0.2, 1.0, 1.0], [1.0, 0.3, 1.0]]
)


def square(side: int) -> torch.Tensor:
    """A filled square mask [side, side]."""
    return torch.ones(side, side)


def disc(side: int) -> torch.Tensor:
    """A disc mask [side, side]: the pixels whose centre lies within side / 2 of the centre."""
    centre = torch.arange(side) + 0.5 - side / 2
    return ((centre[:, None] ** 2 + centre[None, :] ** 2) <= (side / 2) ** 2).float()


SHAPES = {"square": square, "disc": disc}


class BouncingShapes(ProceduralVideo):
    """Clips [frames, 3, size, size] in [-1, 1] of ``shapes`` = (lo, hi) squares and discs.

    Each shape has a side in ``shape_size`` (pixels, inclusive), a colour from ``PALETTE`` and a
    velocity whose components have magnitude in ``speed``; ``gravity`` (pixels per frame^2, 0 = off)
    pulls every shape towards the bottom wall.
    """

    def __init__(
        self,
        split: str = "train",
        frames: int = 16,
        size: int = 32,
        shapes: tuple[int, int] = (1, 3),
        shape_size: tuple[int, int] = (6, 10),
        speed: tuple[int, int] = (1, 3),
        gravity: int = 0,
        length: int = 10_000,
        seed: int = 0,
    ):
        super().__init__(split, frames, size, length, seed)
        self.shapes = check_range("shapes", shapes, 1)
        self.shape_size = check_range("shape_size", shape_size, 1)
        if self.shape_size[1] >= size:
            raise ValueError(f"shapes must be smaller than the box: shape_size {shape_size}, size {size}")
        self.speed = check_range("speed", speed, 0)
        self.gravity = gravity

    def draw(self, rng: np.random.Generator) -> Scene:
        n = int(rng.integers(self.shapes[0], self.shapes[1], endpoint=True))
        sides = rng.integers(self.shape_size[0], self.shape_size[1], size=n, endpoint=True)
        kinds = rng.choice(list(SHAPES), size=n)
        colours = PALETTE[rng.integers(0, len(PALETTE), size=n)]
        alphas = tuple(SHAPES[k](int(s)) for k, s in zip(kinds, sides))
        limit = torch.as_tensor(self.size - sides)[:, None].repeat(1, 2)
        return Scene(
            size=self.size,
            colours=tuple(c[:, None, None].expand(3, *a.shape) for c, a in zip(colours, alphas)),
            alphas=alphas,
            position=random_position(rng, limit),
            velocity=random_velocity(rng, n, self.speed),
            gravity=self.gravity,
        )
