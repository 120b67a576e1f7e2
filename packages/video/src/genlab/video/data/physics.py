"""Bouncing motion on the integer pixel lattice: constant velocity, optional gravity, elastic walls.

The dynamics of Moving MNIST (Srivastava et al. 2015, "Unsupervised Learning of Video
Representations using LSTMs"): each object moves with a constant velocity and bounces elastically
off the walls of the box. Positions, velocities and gravity are integers, so every frame is an exact
function of the previous two: a perfect model could roll out forever, and a rollout that drifts
from the ground truth (Chen et al. 2024, Diffusion Forcing, Sec. 4) does so through model error
alone, never through hidden sub-pixel state.

A wall bounce is a fold of the unconstrained coordinate x into [0, L]: with x = k L + r,
0 <= r < L, the position is r for even k and L - r for odd k, and the velocity flips sign k times.
Without gravity the position after n steps is therefore the triangle wave fold(p0 + n v0).
"""

from __future__ import annotations

import torch


def fold(x: torch.Tensor, limit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reflect integer coordinates ``x`` into [0, limit]; returns (position, sign) with sign = (-1)^k."""
    k = torch.div(x, limit, rounding_mode="floor")
    r = x - k * limit
    odd = k % 2 == 1
    return torch.where(odd, limit - r, r), torch.where(odd, -1, 1)


def bounce(
    position: torch.Tensor, velocity: torch.Tensor, limit: torch.Tensor, gravity: int, steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions and velocities of ``steps`` frames, the first being the initial state.

    ``position``, ``velocity`` and ``limit`` are integer tensors [N, 2] (row, column): the top-left
    corner of each object, its displacement per frame, and the largest corner coordinate that keeps
    it inside the box. ``gravity`` is added to the row velocity before every move (semi-implicit
    Euler; rows grow downwards). Returns two tensors [steps, N, 2].
    """
    if position.shape != velocity.shape or position.shape != limit.shape or position.shape[-1:] != (2,):
        raise ValueError(
            f"position, velocity and limit must share one shape [N, 2], got {tuple(position.shape)}, "
            f"{tuple(velocity.shape)}, {tuple(limit.shape)}"
        )
    if position.is_floating_point() or velocity.is_floating_point() or limit.is_floating_point():
        raise ValueError("position, velocity and limit must be integer tensors (the lattice is exact)")
    if (limit < 1).any():
        raise ValueError("every object must be smaller than the box (limit >= 1)")
    if ((position < 0) | (position > limit)).any():
        raise ValueError("initial positions must lie inside the box, in [0, limit]")
    if steps < 1:
        raise ValueError(f"need at least one frame, got {steps}")
    pull = torch.tensor([gravity, 0], dtype=velocity.dtype)
    positions, velocities = [position], [velocity]
    for _ in range(steps - 1):
        velocity = velocity + pull
        position, sign = fold(position + velocity, limit)
        velocity = velocity * sign
        positions.append(position)
        velocities.append(velocity)
    return torch.stack(positions), torch.stack(velocities)
