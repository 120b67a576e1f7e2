"""Bits per dimension for discrete data modelled by a continuous density.

Uniform dequantisation (Theis et al. 2016): for integer data x in {0..n_bins-1}^D modelled through
y = (x + u) / n_bins with u ~ U[0, 1)^D, log P(x) >= E_u[log p_y(y)] - D log n_bins.
"""

from __future__ import annotations

import math

import torch


def dequantize(levels: torch.Tensor, n_bins: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Integer levels in [0, n_bins) -> continuous y = (x + u) / n_bins in [0, 1)."""
    if levels.min() < 0 or levels.max() >= n_bins:
        raise ValueError(f"levels must lie in [0, {n_bins}), got [{levels.min()}, {levels.max()}]")
    u = torch.rand(levels.shape, generator=generator, device=levels.device)
    return (levels.float() + u) / n_bins


def bits_per_dim(
    log_prob: torch.Tensor, num_dims: int, n_bins: int | None = None, scale: float = 1.0
) -> torch.Tensor:
    """-log2 P per dimension from the density of the model's variable x = scale * y + shift, y the
    dequantised data in [0, 1)^D (scale = 2 for models on [-1, 1]).

    With ``n_bins`` the -D log n_bins change of variables turns the density of y into that of the
    integers plus u; without it the log-probability is taken to be of discrete data already.
    """
    log_p = log_prob + num_dims * math.log(scale) - (num_dims * math.log(n_bins) if n_bins else 0.0)
    return -log_p / (num_dims * math.log(2.0))
