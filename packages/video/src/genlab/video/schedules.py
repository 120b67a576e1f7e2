"""Scheduling matrices of Diffusion Forcing (Chen et al. 2024, Sec. 3.2 and Appendix): per-frame
noise levels for every sampling row.

A scheduling matrix m has shape [rows, T] with integer levels in 0..K (K = pure noise, 0 = clean);
row r -> r+1 takes every frame from level m[r, t] to m[r+1, t], and a frame whose level does not
drop is not updated. All four schedules are one lagged staircase,

    m[row, t] = clip(K + lag(t) - row, 0, K),   rows = K + max_t lag(t) + 1,

so the first row is all K, the last all 0 and no level ever rises down the rows:

- full_sequence: lag = 0, every frame denoised together (conventional video diffusion);
- pyramid: lag = floor(t * uncertainty_scale), later frames stay noisier, the more uncertain future;
- autoregressive: lag = t * K, one frame fully denoised after another (pyramid with scale K);
- trapezoid: lag = floor(min(t, T - 1 - t) * uncertainty_scale), both ends first, the middle last.

(The reference code's trapezoid mirrors frame t onto index -t and skips a frame for even T; this
is the symmetric staircase it intends.) Known history frames (``context``) sit in front at level 0,
or at a small ``stabilization`` level (the model is told they are slightly noisy, which stabilises
long rollouts; Chen et al. 2024 Sec. 3.4, Song et al. 2025 DFoT), and never change.

``scheduling_grid`` converts a matrix to genlab.core's grid convention, t = level / K with shape
(rows, B, T), i.e. (K+1, *t_shape) with t_shape = [B, T]; ``update_mask`` says which frames move.
"""

from __future__ import annotations

import math

import torch

from genlab.core.lookup import lookup


def _zeros(frames: int, steps: int, scale: float) -> torch.Tensor:
    return torch.zeros(frames, dtype=torch.long)


def _pyramid(frames: int, steps: int, scale: float) -> torch.Tensor:
    return torch.floor(torch.arange(frames, dtype=torch.float64) * scale).long()


def _autoregressive(frames: int, steps: int, scale: float) -> torch.Tensor:
    return _pyramid(frames, steps, steps)


def _trapezoid(frames: int, steps: int, scale: float) -> torch.Tensor:
    t = torch.arange(frames)
    return _pyramid(frames, steps, scale)[torch.minimum(t, frames - 1 - t)]


SCHEDULING_MATRICES = {
    "full_sequence": _zeros,
    "pyramid": _pyramid,
    "autoregressive": _autoregressive,
    "trapezoid": _trapezoid,
}


def scheduling_matrix(
    name: str,
    frames: int,
    steps: int,
    *,
    uncertainty_scale: float = 1.0,
    context: int = 0,
    stabilization: int = 0,
) -> torch.Tensor:
    """The integer matrix [rows, context + frames] of schedule ``name`` over ``steps`` = K levels.

    ``frames`` are generated (from level K to 0); ``context`` known frames come first, at level
    ``stabilization`` in every row.
    """
    lags_of = lookup("scheduling matrix", name, SCHEDULING_MATRICES)
    if frames < 1 or steps < 1 or context < 0:
        raise ValueError(f"need frames >= 1, steps >= 1 and context >= 0, got {frames}, {steps}, {context}")
    if not (math.isfinite(uncertainty_scale) and uncertainty_scale >= 0):
        raise ValueError(f"uncertainty_scale must be finite and >= 0, got {uncertainty_scale}")
    if not 0 <= stabilization <= steps:
        raise ValueError(f"stabilization must be a level in [0, steps] = [0, {steps}], got {stabilization}")
    lags = lags_of(frames, steps, uncertainty_scale)
    row = torch.arange(steps + int(lags.max()) + 1)[:, None]
    levels = (steps + lags[None, :] - row).clamp(0, steps)
    return torch.cat([torch.full((len(row), context), stabilization), levels], dim=1)


def check_levels(levels: torch.Tensor, steps: int) -> None:
    """Raise a ValueError unless ``levels`` is an integer [rows >= 2, T] matrix in 0..steps, non-increasing."""
    if levels.ndim != 2 or levels.shape[0] < 2 or levels.shape[1] < 1:
        raise ValueError(f"a scheduling matrix has shape [rows >= 2, T >= 1], got {tuple(levels.shape)}")
    if levels.is_floating_point() or levels.dtype == torch.bool:
        raise ValueError(f"a scheduling matrix holds integer levels, got dtype {levels.dtype}")
    if (levels < 0).any() or (levels > steps).any():
        raise ValueError(f"levels must lie in [0, steps] = [0, {steps}]")
    if (levels[1:] > levels[:-1]).any():
        raise ValueError("levels must not increase down the rows (rows run from noise to data)")


def update_mask(levels: torch.Tensor) -> torch.Tensor:
    """Boolean [rows - 1, ...]: True where a frame's level drops from one row to the next."""
    return levels[1:] < levels[:-1]


def scheduling_grid(
    levels: torch.Tensor, steps: int, batch_size: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The core time grid t = level / K of shape (rows, batch_size, T), shared by the batch."""
    check_levels(levels, steps)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    grid = levels.to(dtype) / steps
    return grid[:, None, :].expand(-1, batch_size, -1).contiguous()
