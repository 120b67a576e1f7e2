"""Sinusoidal embeddings of continuous noise levels (Vaswani et al.; Ho et al. for diffusion time)."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    """Maps t of any shape to ``t.shape + (dim,)`` features [sin(w_k s t), cos(w_k s t)].

    ``scale`` stretches t in [0, 1] so that the lowest frequencies still resolve small steps.
    """

    def __init__(self, dim: int, scale: float = 1000.0, max_period: float = 10_000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"embedding dim must be even, got {dim}")
        freqs = torch.exp(-math.log(max_period) * torch.arange(dim // 2) / (dim // 2))
        self.register_buffer("freqs", freqs, persistent=False)
        self.scale = scale

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = (self.scale * t.float())[..., None] * self.freqs
        return torch.cat([angles.sin(), angles.cos()], dim=-1)
