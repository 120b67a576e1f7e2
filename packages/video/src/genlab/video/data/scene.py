"""The initial state of a procedural video and its exact rollout: sprites moving in a square box.

One scene serves the training clip and the long ground-truth sequence alike (Chen et al. 2024,
Diffusion Forcing: rollouts far beyond the training length are compared frame by frame with the
truth), since both are renderings of the same deterministic trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genlab.video.data.physics import bounce


@dataclass(frozen=True, eq=False)
class Scene:
    """Sprites in a ``size`` x ``size`` box, painted in order (later ones on top).

    ``colours`` holds one [C, h, w] image in [0, 1] per object and ``alphas`` its [h, w] opacity in
    [0, 1]; ``position`` and ``velocity`` are integer tensors [N, 2] (row, column) of the top-left
    corners and their displacement per frame; ``gravity`` is added to the row velocity every frame.
    """

    size: int
    colours: tuple[torch.Tensor, ...] = field(repr=False)
    alphas: tuple[torch.Tensor, ...] = field(repr=False)
    position: torch.Tensor
    velocity: torch.Tensor
    gravity: int = 0

    def __post_init__(self):
        if (
            not self.colours
            or len(self.colours) != len(self.alphas)
            or len(self.colours) != len(self.position)
        ):
            raise ValueError(
                f"need one colour, alpha and position per object, got {len(self.colours)}, "
                f"{len(self.alphas)}, {len(self.position)}"
            )
        channels = {c.shape[0] for c in self.colours}
        if len(channels) != 1 or any(
            c.ndim != 3 or c.shape[1:] != a.shape for c, a in zip(self.colours, self.alphas)
        ):
            raise ValueError(
                "colours must be [C, h, w] with one C for all objects, alphas [h, w] of the same h, w"
            )

    @property
    def limit(self) -> torch.Tensor:
        """The largest top-left corner that keeps each object inside the box, [N, 2]."""
        return torch.tensor([[self.size - a.shape[0], self.size - a.shape[1]] for a in self.alphas])

    def trajectory(self, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions and velocities [frames, N, 2] from the initial state."""
        return bounce(self.position, self.velocity, self.limit, self.gravity, frames)

    def render(self, frames: int) -> torch.Tensor:
        """The video [frames, C, size, size], float32 in [-1, 1] (black background is -1)."""
        positions, _ = self.trajectory(frames)
        video = torch.zeros(frames, self.colours[0].shape[0], self.size, self.size)
        for n, (colour, alpha) in enumerate(zip(self.colours, self.alphas)):
            h, w = alpha.shape
            for t, (r, c) in enumerate(positions[:, n].tolist()):
                patch = video[t, :, r : r + h, c : c + w]
                patch.mul_(1 - alpha).add_(colour * alpha)
        return video * 2 - 1
