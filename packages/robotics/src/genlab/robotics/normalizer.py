"""Diffuser's ``LimitsNormalizer`` (Janner et al., 2022): each dimension's data range mapped onto [-1, 1].

Diffuser normalises Maze2D observations and actions this way before diffusion, so that the clipped x0
prediction (``clip_denoised``) and the unit-variance noise share one scale:

    normalize(x) = 2 (x - min) / (max - min) - 1,    unnormalize(y) = (y + 1) / 2 (max - min) + min,

with y clipped to [-1, 1] first, as Diffuser does. A constant dimension keeps range 1 so nothing divides by 0.
Works on numpy arrays and torch tensors of any leading shape.
"""

from __future__ import annotations

import numpy as np
import torch


class LimitsNormalizer:
    """Per-dimension min/max scaling of the last axis to [-1, 1]; ``fit`` it on data [..., D]."""

    def __init__(self, mins, maxs):
        self.mins = np.asarray(mins, dtype=np.float64)
        self.maxs = np.asarray(maxs, dtype=np.float64)
        if self.mins.ndim != 1 or self.mins.shape != self.maxs.shape:
            raise ValueError(
                f"mins and maxs must be vectors of one length, got {self.mins.shape}, {self.maxs.shape}"
            )
        if not (np.isfinite(self.mins).all() and np.isfinite(self.maxs).all()):
            raise ValueError("mins and maxs must be finite")
        if (self.maxs < self.mins).any():
            raise ValueError(
                f"maxs below mins in dimensions {np.flatnonzero(self.maxs < self.mins).tolist()}"
            )
        self.ranges = np.where(self.maxs > self.mins, self.maxs - self.mins, 1.0)

    @classmethod
    def fit(cls, data) -> LimitsNormalizer:
        """The normalizer of ``data`` [..., D] (numpy or torch): its min and max along every leading axis."""
        x = np.asarray(data.detach().cpu() if isinstance(data, torch.Tensor) else data, dtype=np.float64)
        if x.ndim < 1 or x.size == 0:
            raise ValueError(f"cannot fit a normalizer on data of shape {x.shape}")
        flat = x.reshape(-1, x.shape[-1])
        if not np.isfinite(flat).all():
            raise ValueError("cannot fit a normalizer on data with NaN or inf")
        return cls(flat.min(axis=0), flat.max(axis=0))

    def widened(self, mins, maxs) -> LimitsNormalizer:
        """The normalizer whose range covers both its own and ``[mins, maxs]`` in every dimension."""
        mins, maxs = np.asarray(mins, dtype=np.float64), np.asarray(maxs, dtype=np.float64)
        if mins.shape != self.mins.shape or maxs.shape != self.maxs.shape:
            raise ValueError(
                f"widening needs bounds of shape {self.mins.shape}, got {mins.shape}, {maxs.shape}"
            )
        return LimitsNormalizer(np.minimum(self.mins, mins), np.maximum(self.maxs, maxs))

    @property
    def dim(self) -> int:
        return len(self.mins)

    def normalize(self, x):
        """``x`` [..., D] to [-1, 1] on the fitted range."""
        x, mins, ranges = self._params(x, "normalize")
        return 2 * (x - mins) / ranges - 1

    def unnormalize(self, y, clip: bool = True):
        """The inverse of ``normalize``; ``y`` is clipped to [-1, 1] first unless ``clip=False``."""
        y, mins, ranges = self._params(y, "unnormalize")
        if clip:
            y = y.clamp(-1, 1) if isinstance(y, torch.Tensor) else np.clip(y, -1, 1)
        return (y + 1) / 2 * ranges + mins

    def _params(self, x, what: str):
        """``x`` as an array or tensor, with mins and ranges in its type, dtype and device."""
        if not isinstance(x, torch.Tensor):
            x = np.asarray(x, dtype=np.float64)
        if x.shape[-1:] != (self.dim,):
            raise ValueError(
                f"{what} expects [..., {self.dim}] (the fitted dimension), got shape {tuple(x.shape)}"
            )
        if isinstance(x, torch.Tensor):
            return x, *(torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in (self.mins, self.ranges))
        return x, self.mins, self.ranges
