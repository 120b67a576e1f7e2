"""Glow's multi-scale architecture (Kingma & Dhariwal 2018, section 3 and figure 2; Dinh et al. 2017).

- ``Squeeze``: each 2x2 spatial block becomes 4 channels, [B, C, H, W] -> [B, 4C, H/2, W/2], log-det 0.
- ``Split(channels, inner)``: half the channels, x2, are factored out with a learned conditional prior
  N(x2; mu(x1), sigma(x1)) (a zero-initialised conv of the other half x1), and ``inner`` goes on with x1.
  Written as a bijection, x2 is standardised, eps = (x2 - mu) / sigma with log-det -sum log sigma, and
  put back beside inner(x1): a standard-normal base on eps is then exactly Glow's conditional prior on x2.
  ``inner`` must keep its input's shape (a level ends by un-squeezing), so the whole model maps
  [B, C, H, W] to a latent of the same shape, scored by ``StandardNormal(C, H, W)``.
- ``glow_step``: ActNorm -> invertible 1x1 conv -> affine coupling (Glow figure 2a).
- ``glow(channels, levels, steps)``: ``levels`` x (squeeze, ``steps`` flow steps, split), the last
  level without split.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from genlab.core.nflows.actnorm import ActNorm
from genlab.core.nflows.base import Bijection, Chain, Inverse, sum_except_batch
from genlab.core.nflows.coupling import image_coupling, zero_init
from genlab.core.nflows.linear import Invertible1x1Conv


class Squeeze(Bijection):
    """[B, C, H, W] -> [B, 4C, H/2, W/2]; ``Inverse(Squeeze())`` un-squeezes."""

    def forward(self, x, context=None):
        if x.ndim != 4 or x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"Squeeze needs [B, C, H, W] with even H and W, got {tuple(x.shape)}")
        return rearrange(x, "b c (h p) (w q) -> b (c p q) h w", p=2, q=2), x.new_zeros(x.shape[0])

    def inverse(self, z, context=None):
        if z.ndim != 4 or z.shape[1] % 4:
            raise ValueError(f"un-squeezing needs [B, 4C, H, W], got {tuple(z.shape)}")
        return rearrange(z, "b (c p q) h w -> b c (h p) (w q)", p=2, q=2), z.new_zeros(z.shape[0])


class Split(Bijection):
    """Factor out half the channels with a learned prior conditioned on the other half (see module doc)."""

    def __init__(self, channels: int, inner: Bijection, prior: nn.Module | None = None):
        super().__init__()
        if channels % 2:
            raise ValueError(f"Split needs an even number of channels, got {channels}")
        self.channels, self.inner = channels, inner
        self.prior = prior or zero_init(nn.Conv2d(channels // 2, channels, 3, padding=1))

    def _mu_log_sigma(self, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.prior(x1).chunk(2, 1)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"Split({self.channels}) expects [B, {self.channels}, H, W], got {tuple(x.shape)}"
            )

    def forward(self, x, context=None):
        self._check(x)
        x1, x2 = x.chunk(2, 1)
        mu, log_sigma = self._mu_log_sigma(x1)
        y1, logdet = self.inner(x1, context)
        if y1.shape != x1.shape:
            raise ValueError(
                f"Split's inner flow must keep the shape {tuple(x1.shape)}, got {tuple(y1.shape)}"
            )
        eps = (x2 - mu) * torch.exp(-log_sigma)
        return torch.cat([y1, eps], 1), logdet - sum_except_batch(log_sigma)

    def inverse(self, z, context=None):
        self._check(z)
        y1, eps = z.chunk(2, 1)
        x1, logdet = self.inner.inverse(y1, context)
        mu, log_sigma = self._mu_log_sigma(x1)
        x2 = mu + torch.exp(log_sigma) * eps
        return torch.cat([x1, x2], 1), logdet + sum_except_batch(log_sigma)


def glow_step(channels: int, hidden: int = 64, lu: bool = True, affine: bool = True) -> Chain:
    return Chain(
        [ActNorm(channels), Invertible1x1Conv(channels, lu), image_coupling(channels, hidden, affine=affine)]
    )


def glow(
    channels: int, levels: int = 3, steps: int = 4, hidden: int = 64, lu: bool = True, affine: bool = True
) -> Chain:
    """The Glow multi-scale flow for [B, channels, H, W] images, H and W divisible by 2**levels."""
    if levels < 1:
        raise ValueError(f"glow needs at least one level, got {levels}")
    c = 4 * channels
    layers: list[Bijection] = [Squeeze(), *(glow_step(c, hidden, lu, affine) for _ in range(steps))]
    if levels > 1:
        layers.append(Split(c, glow(c // 2, levels - 1, steps, hidden, lu, affine)))
    return Chain([*layers, Inverse(Squeeze())])
