"""The bijection interface shared by every flow layer, and its composition.

Direction convention (normflows / nflows style, Papamakarios et al. 2021 "Normalizing Flows for
Probabilistic Modeling and Inference"): ``forward`` is the *normalising* direction, data x -> base z,
and ``inverse`` is the *generative* direction, base z -> data x.

- ``forward(x, context=None) -> (z, logdet)`` with logdet = log|det dz/dx|, shape [B];
- ``inverse(z, context=None) -> (x, logdet)`` with logdet = log|det dx/dz|, shape [B];

so the two log-dets of a round trip sum to zero, and the change of variables reads
log p(x) = log p_base(forward(x)) + logdet_forward.  Layers that are only closed-form one way
(planar and radial flows, Rezende & Mohamed 2015) raise NotImplementedError the other way.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def sum_except_batch(x: torch.Tensor) -> torch.Tensor:
    """Sum every axis but the first: per-element log-scales -> a log-det of shape [B]."""
    return x.reshape(x.shape[0], -1).sum(1)


def check_features(x: torch.Tensor, ndim: int, size: int, dim: int = 1, name: str = "x") -> None:
    """Raise a ValueError unless ``x`` has ``ndim`` dims and ``size`` entries along ``dim``."""
    if x.ndim != ndim or x.shape[dim] != size:
        layout = "[B, D]" if ndim == 2 else "[B, C, H, W]" if ndim == 4 else f"{ndim} dims"
        raise ValueError(f"{name} must be {layout} with {size} entries on axis {dim}, got {tuple(x.shape)}")


def check_channels(x: torch.Tensor, channels: int, layer: str) -> None:
    """Raise a ValueError unless ``x`` is [B, channels, ...] (vectors or images)."""
    if x.ndim < 2 or x.shape[1] != channels:
        raise ValueError(f"{layer}({channels}) expects [B, {channels}, ...], got {tuple(x.shape)}")


class Bijection(nn.Module):
    """An invertible map with a tractable log-det; see the module docstring for the directions."""

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(
        self, z: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class Chain(Bijection):
    """Layers applied in order in ``forward`` and in reverse order in ``inverse``; log-dets add."""

    def __init__(self, layers: Iterable[Bijection]):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        for layer in self.layers:
            if not isinstance(layer, Bijection):
                raise TypeError(f"Chain takes Bijection layers, got {type(layer).__name__}")

    def forward(self, x, context=None):
        logdet = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x, context)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z, context=None):
        logdet = z.new_zeros(z.shape[0])
        for layer in reversed(self.layers):
            z, ld = layer.inverse(z, context)
            logdet = logdet + ld
        return z, logdet


class Inverse(Bijection):
    """A layer with its directions swapped (MAF <-> IAF, squeeze <-> unsqueeze)."""

    def __init__(self, layer: Bijection):
        super().__init__()
        self.layer = layer

    def forward(self, x, context=None):
        return self.layer.inverse(x, context)

    def inverse(self, z, context=None):
        return self.layer(z, context)
