"""A spatio-temporal video transformer with per-frame adaLN: the causal denoiser of Diffusion
Forcing and, with ``causal=False``, the Diffusion Forcing Transformer of history guidance.

Frames are cut into p x p patches (ViT); each block attends over the patches of one frame (spatial
attention), then over the same patch position across frames (temporal attention; causal, so frame k
sees frames <= k only: the masked transformer of Chen et al. 2024, Sec. 3), then an MLP. Every frame
carries its own noise level t[b, k], which shifts, scales and gates the block's LayerNorms through
adaLN-Zero (DiT, Peebles & Xie 2023), so frames at different noise levels share one forward pass.
The factorised space/time attention is that of Genie's ST-transformer (Bruce et al. 2024) and of
DFoT's DiT3D (Song et al. 2025). Interface: ``model(x [B, T, C, H, W], t [B, T]) -> [B, T, C, H, W]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from genlab.core.nn.transformer import Attention
from genlab.video.models.common import check_clip, time_embedding


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class SpaceTimeBlock(nn.Module):
    """Spatial attention, temporal attention and an MLP, each adaLN-Zero modulated by the frame's c."""

    def __init__(self, dim: int, heads: int, causal: bool):
        super().__init__()
        self.causal = causal
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.space, self.time = Attention(dim, heads), Attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.mod = nn.Linear(dim, 9 * dim)
        nn.init.zeros_(self.mod.weight)  # adaLN-Zero: the block starts as the identity
        nn.init.zeros_(self.mod.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """h [B, T, N, D] tokens, c [B, T, 1, D] the frames' conditions."""
        b, t, n, d = h.shape
        s1, c1, g1, s2, c2, g2, s3, c3, g3 = self.mod(F.silu(c)).chunk(9, dim=-1)
        y = _modulate(self.norm(h), s1, c1).reshape(b * t, n, d)
        h = h + g1 * self.space(y, causal=False).view(b, t, n, d)
        y = rearrange(_modulate(self.norm(h), s2, c2), "b t n d -> (b n) t d")
        y = self.time(y, causal=self.causal)
        h = h + g2 * rearrange(y, "(b n) t d -> b t n d", b=b)
        return h + g3 * self.mlp(_modulate(self.norm(h), s3, c3))


class SpaceTimeStack(nn.Module):
    """Learned space and time positions, then ``depth`` SpaceTimeBlocks over tokens h [B, T, N, D]
    (N = ``tokens`` per frame, T <= ``frames``) with per-frame conditions c [B, T, 1, D]."""

    def __init__(self, tokens: int, frames: int, dim: int, depth: int, heads: int, causal: bool):
        super().__init__()
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.pos_space = nn.Parameter(torch.randn(tokens, dim) * 0.02)
        self.pos_time = nn.Parameter(torch.randn(frames, 1, dim) * 0.02)
        self.blocks = nn.ModuleList(SpaceTimeBlock(dim, heads, causal) for _ in range(depth))

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = h + self.pos_space + self.pos_time[: h.shape[1]]
        for block in self.blocks:
            h = block(h, c)
        return h


class VideoTransformer(nn.Module):
    """``model(x [B, T, C, H, W], t [B, T] or [B]) -> [B, T, C, H, W]`` for T <= ``frames``.

    ``causal=True``: frame k's output depends on frames 0..k only (Diffusion Forcing);
    ``causal=False``: every frame sees every other (DFoT, Song et al. 2025).
    """

    recurrent = False

    def __init__(
        self,
        channels: int = 1,
        size: int = 32,
        frames: int = 16,
        patch: int = 4,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        causal: bool = True,
    ):
        super().__init__()
        if size % patch:
            raise ValueError(f"frame size {size} is not divisible by the patch size {patch}")
        self.channels, self.size, self.frames, self.patch, self.causal = channels, size, frames, patch, causal
        self.embed = nn.Linear(channels * patch * patch, dim)
        self.time = time_embedding(dim)
        self.stack = SpaceTimeStack((size // patch) ** 2, frames, dim, depth, heads, causal)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.final_mod = nn.Linear(dim, 2 * dim)
        self.head = nn.Linear(dim, channels * patch * patch)
        for layer in (self.final_mod, self.head):  # the network starts by predicting 0
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = check_clip(x, t, self.channels, self.size, self.frames)
        p, side = self.patch, self.size // self.patch
        h = self.embed(rearrange(x, "b t c (h p) (w q) -> b t (h w) (c p q)", p=p, q=p))
        c = self.time(t)[:, :, None]  # [B, T, 1, D]: one condition per frame
        h = self.stack(h, c)
        shift, scale = self.final_mod(F.silu(c)).chunk(2, dim=-1)
        out = self.head(_modulate(self.norm(h), shift, scale))
        return rearrange(out, "b t (h w) (c p q) -> b t c (h p) (w q)", h=side, p=p, q=p)
