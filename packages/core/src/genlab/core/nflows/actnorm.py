"""Activation normalisation (Kingma & Dhariwal 2018, "Glow", section 3.1).

y = s * x + b per channel (axis 1), shared over every other axis; log-det = (spatial size) * sum log|s|.
On the first ``forward`` call the scale and bias are set from the batch so that y has zero mean and
unit variance per channel (data-dependent initialisation); an ``initialized`` buffer records it, so a
loaded checkpoint is not re-initialised.  The flag is a float 0/1, not a bool, because weight averaging
(the trainer's EMA over parameters and buffers) only takes floating-point tensors; both copies hold 1
after the first step, so their average stays exactly 1.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.nflows.base import Bijection, check_channels


class ActNorm(Bijection):
    """y = exp(log_scale) * x + bias per channel (axis 1), initialised from the first batch."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.channels, self.eps = channels, eps
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(0.0))

    def _view(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return p.view(1, -1, *([1] * (x.ndim - 2)))

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Set s = 1 / std, b = -mean / std per channel from the batch ``x``."""
        flat = x.transpose(0, 1).reshape(self.channels, -1)
        mean, std = flat.mean(1), flat.std(1, correction=0)
        self.log_scale.copy_(-torch.log(std + self.eps))
        self.bias.copy_(-mean / (std + self.eps))
        self.initialized.fill_(1.0)

    def _logdet(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x[0, 0].numel()
        return (spatial * self.log_scale.sum()).expand(x.shape[0])

    def forward(self, x, context=None):
        check_channels(x, self.channels, "ActNorm")
        if not self.initialized.item():
            self.initialize(x)
        y = x * self._view(self.log_scale.exp(), x) + self._view(self.bias, x)
        return y, self._logdet(x)

    def inverse(self, z, context=None):
        check_channels(z, self.channels, "ActNorm")
        x = (z - self._view(self.bias, z)) * self._view(torch.exp(-self.log_scale), z)
        return x, -self._logdet(z)
