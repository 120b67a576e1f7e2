"""A U-ViT video denoiser: per-frame convolutional levels around space-time transformer blocks at
1/4 resolution, the backbone History-Guided Video Diffusion trains its DFoT with (Song et al. 2025,
U-ViT3D; after simple diffusion's U-ViT, Hoogeboom et al. 2023, and SiD2's residual U-ViT, one skip
per resolution).

Plain patch transformers learn pixel detail slowly (on moving digits the ``transformer`` model fits
one batch to more than twice the ConvGRU's loss in the same steps: benchmarks/video_backbones.py);
convolutions at the outer levels give the U-ViT the image prior, and the transformer blocks, where
frames meet, stay the DFoT's: spatial attention within a frame, temporal attention across frames
(causal or not), each frame adaLN-Zero modulated by its own noise level.
Interface: ``model(x [B, T, C, H, W], t [B, T] or [B])``.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from genlab.video.models.codec import FrameCodec
from genlab.video.models.common import check_clip, time_embedding
from genlab.video.models.transformer import SpaceTimeStack


class VideoUViT(nn.Module):
    """Frame encoder (``base``, ``2 base`` channels) -> ``depth`` space-time blocks of width ``dim``
    on the (size / 4)^2 map of every frame -> frame decoder. ``causal=True``: frame k's output depends
    on frames 0..k only (Diffusion Forcing); ``causal=False``: the DFoT."""

    recurrent = False

    def __init__(
        self,
        channels: int = 1,
        size: int = 32,
        frames: int = 16,
        base: int = 32,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        causal: bool = True,
    ):
        super().__init__()
        self.channels, self.size, self.frames, self.causal = channels, size, frames, causal
        wide = 2 * base
        self.time = time_embedding(dim)
        self.codec = FrameCodec(channels, size, base, wide, dim)
        self.to_tokens, self.from_tokens = nn.Linear(wide, dim), nn.Linear(dim, wide)
        self.stack = SpaceTimeStack((size // 4) ** 2, frames, dim, depth, heads, causal)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = check_clip(x, t, self.channels, self.size, self.frames)
        b, n = x.shape[:2]
        c = self.time(t)  # [B, T, D]: one condition per frame
        emb = c.flatten(0, 1)
        e1, e2, e3 = self.codec.encode(x.flatten(0, 1), emb)
        h = self.stack(self.to_tokens(rearrange(e3, "(b t) d h w -> b t (h w) d", b=b)), c[:, :, None])
        m = rearrange(self.from_tokens(h), "b t (h w) d -> (b t) d h w", h=self.size // 4)
        return self.codec.decode(m, (e1, e2), emb).unflatten(0, (b, n))
