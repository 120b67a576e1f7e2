"""A small U-Net for 8x8 to 32x32 images (Ronneberger et al. 2015, as adapted to diffusion by Ho et
al. 2020 and Dhariwal & Nichol 2021).

Residual blocks with GroupNorm, the noise level (and an optional class label) entering every block
as a scale and shift of the normalised features (adaptive GroupNorm, Dhariwal & Nichol Sec. 3),
self-attention at the chosen resolutions, skip connections between the two halves, a zero-initialised
output layer. Class label ``num_classes`` is the null label of classifier-free guidance (Ho & Salimans
2021), used when ``y`` is None. Interface: ``model(x [B, C, H, W], t [B], y=None) -> [B, C, H, W]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.nn.embeddings import SinusoidalEmbedding
from genlab.core.tensors import check_time


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """h = conv(act(norm(x) * (1 + scale) + shift)) on top of a first conv, plus a skip."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.conv2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        return self.skip(x) + self.conv2(self.drop(h))


class Attention(nn.Module):
    """Multi-head self-attention over the H*W positions, residual."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.heads, self.norm = heads, _norm(channels)
        self.qkv, self.proj = nn.Conv2d(channels, 3 * channels, 1), nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class Level(nn.Module):
    """``blocks`` residual blocks (each optionally followed by attention) at one resolution."""

    def __init__(self, cins: list[int], cout: int, emb_dim: int, attention: bool, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(c, cout, emb_dim, dropout) for c in cins)
        self.attn = nn.ModuleList(Attention(cout) if attention else nn.Identity() for _ in cins)


class UNet(nn.Module):
    """``UNet(channels, base, mults, blocks, attn_resolutions, num_classes)`` for images of side
    ``resolution``; level i has ``base * mults[i]`` channels at side ``resolution / 2**i``."""

    def __init__(
        self,
        channels: int = 1,
        base: int = 32,
        mults: tuple[int, ...] = (1, 2),
        blocks: int = 2,
        attn_resolutions: tuple[int, ...] = (4,),
        num_classes: int = 0,
        resolution: int = 8,
        dropout: float = 0.0,
    ):
        super().__init__()
        if resolution % 2 ** (len(mults) - 1):
            raise ValueError(f"resolution {resolution} cannot be halved {len(mults) - 1} times")
        self.channels, self.resolution, self.num_classes = channels, resolution, num_classes
        emb_dim = 4 * base
        self.time = nn.Sequential(
            SinusoidalEmbedding(base), nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.label = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None  # last = null
        self.inp = nn.Conv2d(channels, base, 3, padding=1)
        widths = [base * m for m in mults]
        sides = [resolution // 2**i for i in range(len(mults))]

        self.down, self.downsample, skips, c = nn.ModuleList(), nn.ModuleList(), [base], base
        for i, (w, side) in enumerate(zip(widths, sides)):
            self.down.append(Level([c] + [w] * (blocks - 1), w, emb_dim, side in attn_resolutions, dropout))
            c = w
            skips += [w] * blocks
            if i < len(mults) - 1:
                self.downsample.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
                skips.append(w)
        self.mid1, self.mid_attn = ResBlock(c, c, emb_dim, dropout), Attention(c)
        self.mid2 = ResBlock(c, c, emb_dim, dropout)

        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(mults))):
            cins = []
            for _ in range(blocks + 1):
                cins.append(c + skips.pop())
                c = widths[i]
            self.up.append(Level(cins, widths[i], emb_dim, sides[i] in attn_resolutions, dropout))
            if i > 0:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))
        self.out_norm, self.out = _norm(c), nn.Conv2d(c, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _check(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> None:
        if x.ndim != 4 or x.shape[1] != self.channels or x.shape[2:] != (self.resolution,) * 2:
            shape = (self.channels, self.resolution, self.resolution)
            raise ValueError(
                f"UNet expects x of shape [B, {', '.join(map(str, shape))}], got {tuple(x.shape)}"
            )
        if t.shape != x.shape[:1]:
            check_time(t, x)
            raise ValueError(f"UNet expects one time per image, t of shape [B], got {tuple(t.shape)}")
        if y is not None and self.label is None:
            raise ValueError("this UNet has no class conditioning (num_classes=0) but got labels y")
        if y is not None and (y.shape != t.shape or y.min() < 0 or y.max() > self.num_classes):
            raise ValueError(
                f"labels y must be [B] integers in 0..{self.num_classes} ({self.num_classes} = null)"
            )

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self._check(x, t, y)
        emb = self.time(t)
        if self.label is not None:
            labels = (
                torch.full(t.shape, self.num_classes, dtype=torch.long, device=x.device) if y is None else y
            )
            emb = emb + self.label(labels.long())
        h = self.inp(x)
        hs = [h]
        for i, level in enumerate(self.down):
            for block, attn in zip(level.blocks, level.attn):
                h = attn(block(h, emb))
                hs.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for i, level in enumerate(self.up):
            for block, attn in zip(level.blocks, level.attn):
                h = attn(block(torch.cat([h, hs.pop()], dim=1), emb))
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(F.silu(self.out_norm(h)))
