"""Diffuser (Janner et al., ICML 2022): a diffusion model over whole trajectories, conditioned by inpainting.

Training (Sec. 3): windows tau of H transitions (a_t, s_t), actions first, cut from the dataset's stream and
normalised to [-1, 1] (``LimitsNormalizer``), are noised on a cosine schedule, tau_t = alpha(t) tau + sigma(t) eps,
and the temporal U-Net predicts tau itself (x0; Diffuser's ``predict_epsilon=False``) under the plain MSE.
Goal-reaching is inpainting (Sec. 3.3, Maze2D): the states at index 0 (start) and H-1 (goal) are overwritten
with their clean values on the noisy training input and after every denoising step (the core ``Constraint``,
form 'clean'), and are left out of the loss since they are given.

Sampling is ancestral DDPM (Ho et al., 2020) on a uniform grid of ``steps`` steps with the constraint, the x0
prediction clipped to [-1, 1] (``clip_denoised``); value guidance adds ``scale * grad V`` to the score through
the core ``GradientGuidance`` (Sec. 3.2). Variable-length plans (Sec. 4.1: the horizon is set by the size of
the input noise, since the U-Net is convolutional in time): with several ``horizons`` the loss crops each batch
to one of them, so the model learns every length it will be asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from genlab.core.diffusion import (
    Constraint,
    Denoiser,
    GradientGuidance,
    Schedule,
    diffusion_loss,
    get_schedule,
    sample_ancestral,
    sample_prior,
)
from genlab.core.grids import time_grid
from genlab.robotics.dataset import MazeDataset
from genlab.robotics.normalizer import LimitsNormalizer

OBS_DIM = 4  # PointMaze's (x, y, vx, vy)
ACT_DIM = 2

Guide = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t [B, H, D], t [B]) -> value [B]


def transitions(data: MazeDataset, with_actions: bool = True) -> np.ndarray:
    """The stream as transitions [N, D]: ``[a_t, s_t]`` (Diffuser's order), or ``s_t`` alone."""
    parts = [data.actions, data.observations] if with_actions else [data.observations]
    return np.concatenate(parts, axis=1).astype(np.float64)


def windows(stream: torch.Tensor, starts: torch.Tensor, horizon: int) -> torch.Tensor:
    """The windows ``stream[s : s + horizon]`` for each start s: [B, horizon, D]."""
    if starts.ndim != 1 or (starts < 0).any() or (starts + horizon > len(stream)).any():
        raise ValueError(f"window starts must lie in [0, {len(stream) - horizon}] for horizon {horizon}")
    return stream[starts[:, None] + torch.arange(horizon, device=stream.device)]


class Inpainted(nn.Module):
    """The network seen through the constraint: ``model(constraint(x_t), t)``, x0 optionally clipped to
    [-1, 1]. On training inputs this is Diffuser's ``apply_conditioning`` of the noisy trajectory; in sampling
    the input already holds the values, so it changes nothing there."""

    def __init__(self, model: nn.Module, constraint: Constraint, schedule: Schedule, clip: bool = False):
        super().__init__()
        self.model, self.constraint, self.schedule, self.clip = model, constraint, schedule, clip

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.model(self.constraint.apply(x, t, self.schedule), t)
        return out.clamp(-1, 1) if self.clip else out


class Diffuser:
    """What training and planning share: the layout ``[actions | observations]`` of a transition, the
    normaliser, the schedule, the horizons, and whether the goal is inpainted (else only the start).

    ``start`` and ``goal`` are normalised observations [B, obs_dim]; trajectories are normalised [B, H, D].
    """

    def __init__(
        self,
        normalizer: LimitsNormalizer,
        act_dim: int,
        horizons: Sequence[int],
        *,
        schedule: Schedule | None = None,
        condition_goal: bool = True,
        steps: int = 20,
    ):
        if not 0 <= act_dim < normalizer.dim:
            raise ValueError(f"act_dim must lie in [0, {normalizer.dim}), got {act_dim}")
        if not horizons or min(horizons) < 2:
            raise ValueError(f"horizons must be at least 2 steps long, got {list(horizons)}")
        if steps < 1:
            raise ValueError(f"need at least one sampling step, got {steps}")
        self.normalizer, self.act_dim = normalizer, act_dim
        self.horizons = tuple(sorted(set(int(h) for h in horizons)))
        self.schedule = schedule or get_schedule("cosine")
        self.condition_goal, self.steps = condition_goal, steps
        obs = slice(act_dim, None)
        self.obs_normalizer = LimitsNormalizer(normalizer.mins[obs], normalizer.maxs[obs])

    @property
    def transition_dim(self) -> int:
        return self.normalizer.dim

    @property
    def obs_dim(self) -> int:
        return self.transition_dim - self.act_dim

    def _check_states(self, states: torch.Tensor, what: str) -> torch.Tensor:
        if states.ndim != 2 or states.shape[1] != self.obs_dim:
            raise ValueError(
                f"{what} must be normalised observations [B, {self.obs_dim}], got {tuple(states.shape)}"
            )
        return states

    def constraint(self, start: torch.Tensor, goal: torch.Tensor | None, horizon: int) -> Constraint:
        """Inpainting of the observation channels: ``start`` at index 0 and ``goal`` at index horizon - 1."""
        start = self._check_states(start, "start")
        if self.condition_goal and goal is None:
            raise ValueError("this Diffuser is goal-conditioned: give a goal")
        b, a = len(start), self.act_dim
        values = start.new_zeros(b, horizon, self.transition_dim)
        mask = torch.zeros(b, horizon, self.transition_dim, dtype=torch.bool, device=start.device)
        values[:, 0, a:], mask[:, 0, a:] = start, True
        if self.condition_goal:
            goal = self._check_states(goal, "goal")
            if len(goal) != b:
                raise ValueError(f"{b} starts but {len(goal)} goals")
            values[:, -1, a:], mask[:, -1, a:] = goal, True
        return Constraint(values, mask)

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Denoising loss on windows [B, H, D]; cropped to a random one of ``horizons`` when there are several."""
        h = self.horizons[int(torch.randint(len(self.horizons), ()))]
        if batch.ndim != 3 or batch.shape[1] < h or batch.shape[2] != self.transition_dim:
            raise ValueError(
                f"expected windows [B, >= {h}, {self.transition_dim}], got shape {tuple(batch.shape)}"
            )
        x0 = batch[:, :h]
        obs = x0[:, :, self.act_dim :]
        c = self.constraint(obs[:, 0], obs[:, -1] if self.condition_goal else None, h)
        den = Denoiser(Inpainted(model, c, self.schedule), self.schedule, "x0")
        loss, logs = diffusion_loss(den, x0, mask=~c.mask)
        return loss, {**logs, "horizon": float(h)}

    def denoiser(
        self, model: nn.Module, constraint: Constraint, guide: Guide | None = None, scale: float = 0.0
    ) -> Denoiser:
        """The clipped x0-denoiser for sampling, with value guidance ``scale * grad guide`` if given."""
        den = Denoiser(Inpainted(model, constraint, self.schedule, clip=True), self.schedule, "x0")
        return GradientGuidance(den, guide, scale) if guide is not None and scale else den

    def sample(
        self,
        model: nn.Module,
        start: torch.Tensor,
        goal: torch.Tensor | None,
        horizon: int,
        *,
        generator: torch.Generator | None = None,
        guide: Guide | None = None,
        scale: float = 0.0,
    ) -> torch.Tensor:
        """Ancestral sampling of [B, horizon, D] normalised trajectories through ``start`` (and ``goal``)."""
        c = self.constraint(start, goal, horizon)
        shape = (len(start), horizon, self.transition_dim)
        x = sample_prior(self.schedule, shape, generator=generator, dtype=start.dtype, device=start.device)
        grid = time_grid(self.steps, (len(start),), dtype=start.dtype, device=start.device)
        with torch.no_grad():
            return sample_ancestral(
                self.denoiser(model, c, guide, scale), x, grid, constraint=c, generator=generator
            )

    def observations(self, plans: torch.Tensor) -> np.ndarray:
        """Normalised plans [..., D] as observations [..., obs_dim] in env units (numpy, float64)."""
        return self.obs_normalizer.unnormalize(plans[..., self.act_dim :].detach().cpu().double()).numpy()

    def encode_states(self, states) -> torch.Tensor:
        """Observations [B, obs_dim] in env units as normalised float32 states; a ValueError for a state
        outside the normaliser's range, which the sampler would clip and so not plan from (or to) exactly."""
        x = np.asarray(states, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(f"expected observations [B, {self.obs_dim}], got shape {x.shape}")
        y = self.obs_normalizer.normalize(x)
        out = np.abs(y) > 1 + 1e-9
        if out.any():
            row, dim = np.argwhere(out)[0]
            lo, hi = self.obs_normalizer.mins[dim], self.obs_normalizer.maxs[dim]
            raise ValueError(
                f"state {x[row].tolist()} has dimension {dim} = {x[row, dim]:.6g} outside the normaliser's "
                f"range [{lo:.6g}, {hi:.6g}]: it cannot be inpainted exactly"
            )
        return torch.as_tensor(y, dtype=torch.float32)
