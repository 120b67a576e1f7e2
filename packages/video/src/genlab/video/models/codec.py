"""The per-frame convolutional encoder and decoder shared by the ConvGRU and the U-ViT denoisers.

Each frame is encoded on its own to 1/4 resolution by residual blocks modulated by its noise level
(genlab.core.nn.unet.ResBlock, adaptive GroupNorm) and decoded back with skip connections from its
own encoder. Frames only meet in the middle, at 1/4 resolution, through whatever the denoiser puts
there (a recurrent state, or space-time attention): the outer levels are image-only, which is what
makes convolutions cheap and keeps the middle causal or not as its own choice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.nn.unet import ResBlock


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1))


class FrameCodec(nn.Module):
    """``encode(x [N, C, H, W], emb) -> (e1, e2, e3)`` at 1, 1/2, 1/4 resolution (``base``, ``wide``,
    ``wide`` channels); ``decode(m [N, wide, H/4, W/4], (e1, e2), emb) -> [N, C, H, W]``."""

    def __init__(self, channels: int, size: int, base: int, wide: int, emb: int):
        super().__init__()
        if size % 4:
            raise ValueError(f"frame size {size} must be divisible by 4 (two stride-2 stages)")
        self.stem = nn.Conv2d(channels, base, 3, padding=1)
        self.enc1 = ResBlock(base, base, emb)
        self.down1 = nn.Conv2d(base, wide, 3, stride=2, padding=1)
        self.enc2 = ResBlock(wide, wide, emb)
        self.down2 = nn.Conv2d(wide, wide, 3, stride=2, padding=1)
        self.enc3 = ResBlock(wide, wide, emb)
        self.up2, self.dec2 = _up(wide, wide), ResBlock(2 * wide, wide, emb)
        self.up1, self.dec1 = _up(wide, base), ResBlock(2 * base, base, emb)
        self.out_norm = nn.GroupNorm(min(8, base), base)
        self.out = nn.Conv2d(base, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # the network starts by predicting 0
        nn.init.zeros_(self.out.bias)

    def encode(self, x: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        e1 = self.enc1(self.stem(x), emb)
        e2 = self.enc2(self.down1(e1), emb)
        return e1, e2, self.enc3(self.down2(e2), emb)

    def decode(
        self, m: torch.Tensor, skips: tuple[torch.Tensor, torch.Tensor], emb: torch.Tensor
    ) -> torch.Tensor:
        e1, e2 = skips
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1), emb)
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1), emb)
        return self.out(F.silu(self.out_norm(d1)))
