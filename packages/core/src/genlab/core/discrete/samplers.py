"""Samplers for discrete paths: pure functions of (model, path, x_init, time grid, options).

- ``sample_ancestral``: x_s ~ sum_x0 p_theta(x0 | x_t) q(x_s | x_t, x0) down the grid (D3PM,
  Austin et al., 2021; MDLM, Sahoo et al., 2024).
- ``sample_ancestral_cached``: MDLM's cache: p_theta(x0 | x_t) is reused while a sequence has not
  changed, exact when the denoiser ignores t (MDLM's masked models do).
- ``sample_ctmc_euler``: discrete flow matching's Euler step of the CTMC (Gat et al., 2024): a
  token jumps to a draw from p_theta(x0 | x_t) with chance h kappa'(t) / kappa(t).
- ``sample_maskgit``: MaskGIT's confidence decoding (Chang et al., 2022): predict all masks, keep
  the most confident, re-mask the rest on the cosine schedule, with Gumbel noise on the
  confidences annealed to zero.

Grids have shape (K+1, *t_shape) and run from 1 to 0 (``genlab.core.grids``); a 1-D
grid is shared by the batch, so t is [B] as in the Gaussian samplers. Models are
``model(x_t, t, **cond) -> logits`` over the data tokens, with ``cond`` a dict, as everywhere.
"""

from __future__ import annotations

import torch

from genlab.core.discrete.paths import MixturePath
from genlab.core.discrete.schedules import CorruptionSchedule, get_corruption_schedule
from genlab.core.grids import as_grid
from genlab.core.tensors import append_dims, check_time


def sample_categorical(probs: torch.Tensor, generator=None) -> torch.Tensor:
    """One draw per row of ``probs`` (last axis) by the exponential race argmax p_i / E_i.

    A row with no positive mass or a NaN is refused: the race would silently pick index 0.
    """
    if not (probs.sum(-1) > 0).all():
        raise ValueError("sample_categorical got a row with NaN or no positive probability")
    race = torch.empty_like(probs).exponential_(generator=generator)
    return (probs / race).argmax(-1)


def _steps(grid: torch.Tensor, x: torch.Tensor):
    grid = as_grid(grid, x)
    check_time(grid[0], x)
    if not (grid[1:] <= grid[:-1]).all():
        raise ValueError("the time grid must run from noise (t = 1) down to data (t = 0)")
    return zip(grid[:-1], grid[1:])


def _x0_probs(model, x, t, vocab_size, cond: dict | None) -> torch.Tensor:
    return model(x, t, **(cond or {}))[..., :vocab_size].float().softmax(-1)


def sample_ancestral(model, path, x: torch.Tensor, grid, generator=None, *, cond: dict | None = None):
    """Reverse a MixturePath or D3PMPath from ``x`` at grid[0] down to grid[-1]."""
    for t, s in _steps(grid, x):
        p0 = _x0_probs(model, x, t, path.vocab_size, cond)
        x = sample_categorical(path.posterior(x, p0, t, s), generator)
    return x


def sample_ancestral_cached(model, path, x: torch.Tensor, grid, generator=None, *, cond: dict | None = None):
    """``sample_ancestral`` that calls the model only on sequences that changed since the last call.

    Conditioning tensors in ``cond`` must have the batch as their first axis.
    """
    p0, stale = None, torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    for t, s in _steps(grid, x):
        if stale.any():
            sub = {k: v[stale] for k, v in (cond or {}).items()}
            fresh = _x0_probs(model, x[stale], t[stale], path.vocab_size, sub)
            p0 = fresh if p0 is None else p0.index_put((stale,), fresh)
        x_new = sample_categorical(path.posterior(x, p0, t, s), generator)
        stale = (x_new != x).flatten(1).any(-1)
        x = x_new
    return x


def sample_ctmc_euler(
    model, path: MixturePath, x: torch.Tensor, grid, generator=None, *, cond: dict | None = None
) -> torch.Tensor:
    """Euler steps of the CTMC with rates w (p_theta(y | x_t) - delta_{x_t}(y)), w = kappa'/kappa.

    With a mask source only masked tokens jump (the conditional rates out of data are zero). The
    last step to t = 0 jumps every token that may still be noise, since kappa(0) = 0.
    """
    for t, s in _steps(grid, x):
        p0 = _x0_probs(model, x, t, path.vocab_size, cond)
        jump = torch.where(s == 0, torch.ones_like(t), ((t - s) * path.schedule.rate(t)).clamp(max=1))
        jump = torch.where(s == t, 0.0, jump)  # resting tokens (even at t = s = 0) do not jump
        jump = torch.rand(x.shape, device=x.device, generator=generator) < append_dims(jump, x.ndim)
        if path.mask_id is not None:
            jump &= x == path.mask_id
        x = torch.where(jump, sample_categorical(p0, generator), x)
    return x


def maskgit_schedule(
    steps: int, masked: torch.Tensor, schedule: str | CorruptionSchedule = "cosine"
) -> torch.Tensor:
    """How many tokens stay masked after each of ``steps`` steps, [steps, *masked.shape].

    floor(n kappa(1 - i / steps)) for the n tokens masked at the start (gamma(r) = cos(pi r / 2) in
    the paper), but at least one token is revealed per step while any is left, and none at the end.
    """
    if steps < 1:
        raise ValueError(f"MaskGIT needs at least one step, got {steps}")
    kappa = get_corruption_schedule(schedule).kappa(
        1 - torch.arange(1, steps + 1, dtype=torch.float64) / steps
    )
    counts, left = [], masked
    for k in kappa:
        left = torch.minimum(torch.floor(masked * k).long(), (left - 1).clamp(min=0))
        counts.append(left)
    return torch.stack(counts)


def sample_maskgit(
    model,
    x: torch.Tensor,
    steps: int,
    mask_id: int,
    schedule: str | CorruptionSchedule = "cosine",
    temperature: float = 1.0,
    choice_temperature: float = 4.5,
    generator=None,
    *,
    cond: dict | None = None,
) -> torch.Tensor:
    """Fill the ``mask_id`` tokens of ``x`` [B, L] in ``steps`` parallel steps.

    Tokens are drawn at ``temperature``; the confidence log p(token) + tau_i g (g Gumbel, tau_i =
    ``choice_temperature`` (1 - (i + 1) / steps)) picks which ones stay. The model sees t = 1 - i/steps.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    counts = maskgit_schedule(steps, (x == mask_id).sum(-1), schedule)
    for i in range(steps):
        t = torch.full(x.shape[:1], 1 - i / steps, device=x.device)
        masked = x == mask_id
        logits = model(x, t, **(cond or {}))[..., :mask_id].float() / temperature
        log_p = logits.log_softmax(-1)
        guess = sample_categorical(log_p.exp(), generator)
        u = torch.rand(x.shape, device=x.device, generator=generator).clamp(1e-20, 1 - 1e-7)
        gumbel = -(-u.log()).log()
        confidence = (
            log_p.gather(-1, guess[..., None])[..., 0] + choice_temperature * (1 - (i + 1) / steps) * gumbel
        )
        confidence = torch.where(masked, confidence, torch.inf)
        rank = confidence.argsort(-1).argsort(-1)
        remask = rank < counts[i].to(x.device)[:, None]
        x = torch.where(remask, mask_id, torch.where(masked, guess, x))
    return x
