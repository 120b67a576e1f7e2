"""Additive and affine coupling layers (Dinh et al. 2015 NICE, 2017 RealNVP; Glow section 3.3).

A binary mask m splits x into a kept part x_b = m * x and a transformed part; (h, t) = NN(x_b) and

    y = m * x + (1 - m) * (s * x + t),   s = sigmoid(h + 2)   (affine; Glow's scale)
    y = m * x + (1 - m) * (x + t)                             (additive; NICE)

with log-det sum((1 - m) * log s).  The inverse reads the same x_b from y.  The mask is a channel
(feature) split, optionally flipped by ``parity``, or for images a spatial checkerboard.  The
network's last layer starts at zero (Glow), so each layer starts close to the identity.  A context
tensor, if given, is concatenated to x_b on axis 1 (a [B, K] vector for vectors, [B, K, H, W] maps
for images).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.lookup import lookup
from genlab.core.nflows.base import Bijection, sum_except_batch


def zero_init(layer: nn.Module) -> nn.Module:
    """Zero a layer's weight and bias, so the block it ends outputs zero at initialisation."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _channel_mask(x: torch.Tensor, parity: int) -> torch.Tensor:
    channels = x.shape[1]
    if channels < 2:
        raise ValueError(f"a channel-split coupling needs at least 2 channels, got {channels}; squeeze first")
    kept = (torch.arange(channels, device=x.device) < channels // 2) ^ bool(parity)
    return kept.to(x.dtype).view(1, channels, *([1] * (x.ndim - 2)))


def _checkerboard_mask(x: torch.Tensor, parity: int) -> torch.Tensor:
    if x.ndim != 4:
        raise ValueError(f"a checkerboard coupling needs images [B, C, H, W], got {tuple(x.shape)}")
    i = torch.arange(x.shape[2], device=x.device)[:, None]
    j = torch.arange(x.shape[3], device=x.device)[None, :]
    return ((i + j + parity) % 2 == 0).to(x.dtype)[None, None]


MASKS = {"channel": _channel_mask, "checkerboard": _checkerboard_mask}


class Coupling(Bijection):
    """``Coupling(net, mask='channel'|'checkerboard', parity=0, affine=True)``.

    ``net`` maps [x_b, context] (concatenated on axis 1) to 2C (affine) or C (additive) outputs on axis 1.
    """

    def __init__(self, net: nn.Module, mask: str = "channel", parity: int = 0, affine: bool = True):
        super().__init__()
        self.net, self.mask_fn, self.parity, self.affine = (
            net,
            lookup("coupling mask", mask, MASKS),
            parity,
            affine,
        )

    def _params(self, x_kept: torch.Tensor, context: torch.Tensor | None):
        h = self.net(x_kept if context is None else torch.cat([x_kept, context], 1))
        if h.shape[1] != x_kept.shape[1] * (2 if self.affine else 1):
            raise ValueError(f"the coupling net returned {h.shape[1]} channels for {x_kept.shape[1]} inputs")
        if not self.affine:
            return h, torch.zeros_like(h)
        shift, h = h.chunk(2, 1)
        return shift, F.logsigmoid(h + 2.0)

    def forward(self, x, context=None):
        m = self.mask_fn(x, self.parity)
        shift, log_s = self._params(x * m, context)
        y = m * x + (1 - m) * (x * log_s.exp() + shift)
        return y, sum_except_batch((1 - m) * log_s)

    def inverse(self, z, context=None):
        m = self.mask_fn(z, self.parity)
        shift, log_s = self._params(z * m, context)
        x = m * z + (1 - m) * (z - shift) * torch.exp(-log_s)
        return x, -sum_except_batch((1 - m) * log_s)


def mlp(in_features: int, out_features: int, hidden: int = 64, depth: int = 2) -> nn.Sequential:
    """A ReLU MLP with ``depth`` hidden layers whose last layer starts at zero."""
    sizes = [in_features] + [hidden] * depth
    layers = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
    return nn.Sequential(*layers, zero_init(nn.Linear(sizes[-1], out_features)))


def glow_net(in_channels: int, out_channels: int, hidden: int = 64) -> nn.Sequential:
    """Glow's coupling network: 3x3 conv, ReLU, 1x1 conv, ReLU, zero-initialised 3x3 conv."""
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, 1),
        nn.ReLU(),
        zero_init(nn.Conv2d(hidden, out_channels, 3, padding=1)),
    )


def vector_coupling(
    features: int,
    hidden: int = 64,
    depth: int = 2,
    parity: int = 0,
    affine: bool = True,
    context_features: int = 0,
) -> Coupling:
    """A coupling for [B, D] vectors: half the features condition an MLP that moves the other half."""
    net = mlp(features + context_features, features * (2 if affine else 1), hidden, depth)
    return Coupling(net, "channel", parity, affine)


def image_coupling(
    channels: int,
    hidden: int = 64,
    parity: int = 0,
    affine: bool = True,
    mask: str = "channel",
    context_channels: int = 0,
) -> Coupling:
    """A coupling for [B, C, H, W] images with Glow's network; ``mask`` is 'channel' or 'checkerboard'."""
    net = glow_net(channels + context_channels, channels * (2 if affine else 1), hidden)
    return Coupling(net, mask, parity, affine)
