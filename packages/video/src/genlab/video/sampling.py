"""Sampling video with scheduling matrices, stabilised history and long rollouts (Chen et al. 2024,
Diffusion Forcing, Sec. 3.2-3.4 and Appendix).

``sample_frames`` generates a window: context frames first, then new frames whose per-frame noise
levels follow a scheduling matrix (``genlab.video.schedules``), converted to genlab.core's time grid
(rows, B, T) and run by the core DDIM sampler, which leaves every frame whose level does not drop in
a row untouched. History enters in one of two ways:

- ``stabilized`` (Diffusion Forcing): the known frames sit at a small noise level t_s in every row,
  given as alpha(t_s) x (noise-free, as the reference code does) and never updated: the model is
  told they are slightly noisy, so that the errors of its own past predictions look like noise it
  was trained to discount (Sec. 3.4, "stabilizing autoregressive generation"). t_s = 0 is plain
  clean history, the setting of teacher forcing.
- ``replaced`` (full-sequence diffusion): the known frames are re-noised to the level of the new
  frames after every step (core ``Constraint`` in its 'noised' form; Ho et al. 2022's replacement).

``rollout`` goes far beyond the training length: a transformer slides a window of at most
``window`` frames, generating ``chunk`` new frames after the latest ``window - chunk``; a recurrent
model with stabilised history instead carries its latent state, advanced over each new chunk at the
stabilisation level, so its cost per frame stays constant and its memory unbounded in time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from genlab.core.diffusion import Constraint, Denoiser, sample_ddim, sample_prior
from genlab.core.lookup import lookup
from genlab.video.schedules import scheduling_grid, scheduling_matrix

HISTORY = ("stabilized", "replaced")


def network(denoiser: Denoiser) -> nn.Module:
    """The network under any Denoiser wrappers (guidance, conversions)."""
    net = denoiser
    while isinstance(net, Denoiser):
        net = net.model
    return net


def _check_context(context: torch.Tensor, stabilization: float) -> None:
    if not isinstance(context, torch.Tensor) or context.ndim != 5:
        shape = tuple(context.shape) if isinstance(context, torch.Tensor) else type(context).__name__
        raise ValueError(f"context must be a tensor [B, T, C, H, W] (T may be 0), got {shape}")
    if not 0 <= stabilization < 1:
        raise ValueError(f"stabilization must be a noise level in [0, 1), got {stabilization}")


def _stabilized(denoiser: Denoiser, frames: torch.Tensor, level: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha(t_s) x, t_s [B, T]): history presented as slightly noisy, without drawing noise."""
    alpha, _ = denoiser.schedule.alpha_sigma(frames.new_tensor(level))
    return alpha * frames, frames.new_full(frames.shape[:2], level)


@torch.no_grad()
def sample_frames(
    denoiser: Denoiser,
    context: torch.Tensor,
    frames: int,
    *,
    schedule: str = "pyramid",
    steps: int = 10,
    uncertainty_scale: float = 1.0,
    history: str = "stabilized",
    stabilization: float = 0.0,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
    guide: Callable[[Denoiser, torch.Tensor], Denoiser] | None = None,
) -> torch.Tensor:
    """``frames`` new frames [B, frames, C, H, W] after ``context`` [B, T_c, C, H, W] (T_c >= 0).

    ``schedule`` names the scheduling matrix over the new frames with ``steps`` levels per frame;
    DDIM(eta) runs it (eta = 0 deterministic given the initial noise). ``guide(denoiser, context)``
    wraps the denoiser around the window's history (``genlab.video.history``), which then decides
    the level the history is seen at: the context is passed clean and kept fixed.
    """
    _check_context(context, stabilization)
    lookup("history mode", history, dict.fromkeys(HISTORY))
    b, n_ctx = context.shape[:2]
    if guide is not None:
        if not n_ctx or history != "stabilized":
            raise ValueError("history guidance needs context frames and history='stabilized'")
        denoiser, stabilization = guide(denoiser, context), 0.0
    levels = scheduling_matrix(schedule, frames, steps, uncertainty_scale=uncertainty_scale, context=n_ctx)
    grid = scheduling_grid(levels, steps, b, context.dtype).to(context.device)
    constraint = None
    if history == "stabilized":
        grid[:, :, :n_ctx] = stabilization
        context = _stabilized(denoiser, context, stabilization)[0]
    elif n_ctx:  # the history follows the level of the first new frame, re-noised after every step
        grid[:, :, :n_ctx] = grid[:, :, n_ctx : n_ctx + 1]
        mask = torch.zeros(b, n_ctx + frames, dtype=torch.bool, device=context.device)
        mask[:, :n_ctx] = True
        values = torch.cat([context, context.new_zeros(b, frames, *context.shape[2:])], 1)
        constraint = Constraint(values, mask, form="noised")
    noise = sample_prior(
        denoiser.schedule,
        (b, frames, *context.shape[2:]),
        generator=generator,
        dtype=context.dtype,
        device=context.device,
    )
    x = sample_ddim(
        denoiser,
        torch.cat([context, noise], 1),
        grid,
        eta=eta,
        constraint=constraint,
        generator=generator,
        cond=cond,
    )
    return x[:, n_ctx:]


@torch.no_grad()
def rollout(
    denoiser: Denoiser,
    context: torch.Tensor,
    frames: int,
    *,
    window: int,
    chunk: int,
    history: str = "stabilized",
    stabilization: float = 0.0,
    clamp: tuple[float, float] | None = (-1.0, 1.0),
    **options,
) -> torch.Tensor:
    """``frames`` frames [B, frames, C, H, W] generated after ``context`` [B, T_c >= 1, C, H, W].

    Each window generates ``chunk`` frames (``options`` go to ``sample_frames``); the new frames are
    clamped to the data range ``clamp`` before they serve as history. A recurrent network
    (``recurrent = True`` with a ``scan``) carries its state when the history is stabilised.
    """
    _check_context(context, stabilization)
    if context.shape[1] < 1:
        raise ValueError("a rollout needs at least one context frame")
    if frames < 1 or not 1 <= chunk < window:
        raise ValueError(f"need frames >= 1 and 1 <= chunk < window, got {frames}, {chunk}, {window}")
    net = network(denoiser)
    carry = getattr(net, "recurrent", False) and history == "stabilized"
    if carry and options.get("guide") is not None:
        raise ValueError("history guidance needs a windowed model; a recurrent model carries its history")
    opts = dict(options, history=history, stabilization=stabilization)
    state, video, done = None, [context], 0
    if carry:
        state = net.scan(*_stabilized(denoiser, context, stabilization))[1]
    while done < frames:
        n = min(chunk, frames - done)
        if carry:
            new = sample_frames(denoiser, context[:, :0], n, cond={"state": state}, **opts)
        else:
            past = torch.cat(video, 1)
            new = sample_frames(denoiser, past[:, max(0, past.shape[1] - (window - n)) :], n, **opts)
        if clamp is not None:
            new = new.clamp(*clamp)
        if carry:
            state = net.scan(*_stabilized(denoiser, new, stabilization), state)[1]
        video.append(new)
        done += n
    return torch.cat(video[1:], 1)
