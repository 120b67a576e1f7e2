"""Training objectives over clips: Diffusion Forcing and its two baselines, on one causal model.

Chen et al. (2024, Sec. 3.1, Algorithm 1) train a causal denoiser on clips whose frames carry
*independent* noise levels t[b, k] ~ U[0, 1]: the model learns to denoise any frame given a past at
any mix of noise levels, which is what lets sampling run any scheduling matrix, keep a noisy
(uncertain) future and roll out far beyond the training length. The baselines of their Fig. 2 use
the same model and loss, differing only in the levels:

- ``diffusion-forcing``: t[b, k] independent for every frame (core ``sample_t`` with shape [B, T]);
- ``teacher-forcing``: next-frame diffusion on clean history; per clip a target frame k >= 1 is
  drawn, frames before it sit at t = 0 (untouched), frame k is noised and is the only one scored,
  frames after it are padding;
- ``full-sequence``: one level per clip, t[b, k] = t[b] (conventional video diffusion, here causal).

The baseline of History-Guided Video Diffusion (Song et al. 2025) is a conventional conditional
model: ``history-dropout`` gives the first ``history`` frames level 0 (clean), or level 1 (dropped)
with probability ``dropout``, and the rest one shared level; only the future is scored. It allows
CFG on history (the levels 0 and 1) and nothing in between, unlike Diffusion Forcing's levels.
``uniform-future`` is DFoT's simplified training (Song et al. 2025, App. A.5; ``uniform_future`` in
their code): the first ``history`` frames keep independent levels, so any history level can still be
asked for at sampling time, while the future frames share one level, as they do when sampled.
Every frame is scored.

Padded or missing frames (``valid`` False) are set to full noise t = 1 and never scored, so that
the model learns that a frame at t = 1 carries no information (Chen et al. 2024, Sec. 3.1). The
loss itself is genlab.core's ``diffusion_loss`` with per-frame t and a per-frame loss mask.
"""

from __future__ import annotations

import torch

from genlab.core.diffusion import Denoiser, diffusion_loss, sample_t
from genlab.core.lookup import lookup


def _independent(batch, frames, sampler, generator, **kw):
    t = sample_t(sampler, (batch, frames), generator=generator, **kw)
    return t, torch.ones(batch, frames, dtype=torch.bool, device=t.device)


def _full_sequence(batch, frames, sampler, generator, **kw):
    t = sample_t(sampler, (batch,), generator=generator, **kw)[:, None].expand(batch, frames).contiguous()
    return t, torch.ones(batch, frames, dtype=torch.bool, device=t.device)


def _teacher_forcing(batch, frames, sampler, generator, **kw):
    if frames < 2:
        raise ValueError(f"teacher forcing needs clips of >= 2 frames (history and a target), got {frames}")
    level = sample_t(sampler, (batch,), generator=generator, **kw)
    target = torch.randint(1, frames, (batch, 1), generator=generator, device=level.device)
    k = torch.arange(frames, device=level.device)[None]
    t = torch.where(k < target, 0.0, torch.where(k == target, level[:, None], 1.0)).to(level.dtype)
    return t, k == target


def _check_history(objective, history, frames):
    if not 1 <= history < frames:
        raise ValueError(f"{objective} needs 1 <= history < frames = {frames}, got history = {history}")


def _uniform_future(batch, frames, sampler, generator, history, **kw):
    _check_history("uniform-future", history, frames)
    t, scored = _independent(batch, frames, sampler, generator, **kw)
    future = t[:, history : history + 1].expand(batch, frames - history)
    return torch.cat([t[:, :history], future], 1), scored


def _history_dropout(batch, frames, sampler, generator, history, dropout, **kw):
    _check_history("history-dropout", history, frames)
    if not 0 <= dropout <= 1:
        raise ValueError(f"dropout is a probability, got {dropout}")
    level = sample_t(sampler, (batch,), generator=generator, **kw)
    dropped = torch.rand(batch, 1, generator=generator, device=level.device) < dropout
    k = torch.arange(frames, device=level.device)[None]
    t = torch.where(k < history, dropped.to(level.dtype), level[:, None])
    return t, (k >= history).expand(batch, frames)


OBJECTIVES = {
    "diffusion-forcing": _independent,
    "teacher-forcing": _teacher_forcing,
    "full-sequence": _full_sequence,
    "history-dropout": _history_dropout,
    "uniform-future": _uniform_future,
}


def noise_levels(
    objective: str,
    batch: int,
    frames: int,
    *,
    valid: torch.Tensor | None = None,
    sampler: str = "uniform",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    history: int = 0,
    dropout: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(t [B, T], scored [B, T] bool) of ``objective``; invalid frames get t = 1 and are not scored.
    ``history`` is the history-dropout and uniform-future objectives', ``dropout`` history-dropout's."""
    fn = lookup("training objective", objective, OBJECTIVES)
    if batch < 1 or frames < 1:
        raise ValueError(f"need batch >= 1 and frames >= 1, got {batch}, {frames}")
    extra = {}
    if fn is _history_dropout:
        extra = dict(history=history, dropout=dropout)
    elif fn is _uniform_future:
        extra = dict(history=history)
    return pad(*fn(batch, frames, sampler, generator, dtype=dtype, device=device, **extra), valid)


def pad(
    t: torch.Tensor, scored: torch.Tensor, valid: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded or missing frames (``valid`` False) at full noise t = 1 and unscored."""
    if valid is None:
        return t, scored
    if valid.shape != t.shape:
        raise ValueError(f"valid must be a [B, T] = {list(t.shape)} mask, got {tuple(valid.shape)}")
    valid = valid.to(device=t.device, dtype=torch.bool)
    return torch.where(valid, t, torch.ones_like(t)), scored & valid


def forcing_loss(
    denoiser: Denoiser,
    x0: torch.Tensor,
    objective: str = "diffusion-forcing",
    *,
    t: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
    sampler: str = "uniform",
    weighting: str | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
    history: int = 0,
    dropout: float = 0.1,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The denoising loss of ``objective`` on clean clips x0 [B, T, C, H, W]; returns (loss, logs).

    ``t`` [B, T] overrides the objective's levels (all frames scored); padding still applies.
    """
    if x0.ndim != 5:
        raise ValueError(f"expected clips of shape [B, T, C, H, W], got {tuple(x0.shape)}")
    b, n = x0.shape[:2]
    if t is None:
        t, scored = noise_levels(
            objective,
            b,
            n,
            valid=valid,
            sampler=sampler,
            generator=generator,
            dtype=x0.dtype,
            device=x0.device,
            history=history,
            dropout=dropout,
        )
    else:
        if t.shape != (b, n):
            raise ValueError(f"t must be one level per frame, [B, T] = [{b}, {n}], got {tuple(t.shape)}")
        t, scored = pad(t, torch.ones(b, n, dtype=torch.bool, device=x0.device), valid)
    if not scored.any():
        raise ValueError("no frame is scored: every frame is padding")
    loss, logs = diffusion_loss(
        denoiser, x0, t=t, mask=scored, weighting=weighting, generator=generator, cond=cond
    )
    logs["scored_frames"] = float(scored.sum(1).float().mean())
    return loss, logs
