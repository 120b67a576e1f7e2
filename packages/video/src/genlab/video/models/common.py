"""Input checks and the per-frame noise-level embedding shared by the video denoisers.

Diffusion Forcing (Chen et al. 2024) gives every frame its own noise level, so a video denoiser
takes x [B, T, C, H, W] and t [B, T] (t [B] means one level for the whole clip) and embeds each
frame's level on its own: the embedding of frame k never sees the level of another frame.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.nn.embeddings import SinusoidalEmbedding
from genlab.core.tensors import check_finite, check_time


def check_clip(x: torch.Tensor, t: torch.Tensor, channels: int, size: int, max_frames: int | None = None):
    """Raise a ValueError unless x is [B, T, channels, size, size] (T <= max_frames) and t is [B] or
    [B, T]; return t as [B, T]."""
    if not isinstance(x, torch.Tensor) or x.ndim != 5 or tuple(x.shape[2:]) != (channels, size, size):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected a clip of shape [B, T, {channels}, {size}, {size}], got {shape}")
    if x.shape[1] < 1:
        raise ValueError("the clip has no frames")
    if max_frames is not None and x.shape[1] > max_frames:
        raise ValueError(
            f"the clip has {x.shape[1]} frames but the model was built for at most {max_frames}; "
            "roll out longer videos with a sliding window (genlab.video.sampling.rollout)"
        )
    check_time(t, x)
    if t.ndim not in (1, 2):
        raise ValueError(f"t must be [B] or [B, T] (one level per frame), got shape {tuple(t.shape)}")
    check_finite(t, "t")
    return t[:, None].expand(-1, x.shape[1]) if t.ndim == 1 else t


def time_embedding(dim: int) -> nn.Sequential:
    """t of any shape -> t.shape + (dim,): sinusoidal features, then an MLP (Ho et al. 2020)."""
    return nn.Sequential(SinusoidalEmbedding(dim), nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
