"""Masked autoregressive flow (MAF; Papamakarios et al. 2017) and inverse autoregressive flow
(IAF; Kingma et al. 2016), both with a MADE conditioner.

Both are the element-wise affine map v = u * exp(log_s(u_<)) + shift(u_<) whose parameters are read
from the *input* u: one MADE pass evaluates it, inverting it takes D sequential passes.  They differ
in which side u is on:

- MAF puts u on the data side: forward (density) is one pass, sampling is sequential.
  u_i = (x_i - mu_i) exp(-alpha_i), so log_s = -alpha and shift = -mu exp(-alpha) (MAF eq. 4).
- IAF puts u on the base side: sampling is one pass, scoring given data is sequential.
  z_t = sigma * z_{t-1} + (1 - sigma) * m with sigma = sigmoid(s + 2) (IAF eq. 14, with Glow's
  offset so each step starts near the identity), so log_s = log sigma and shift = (1 - sigma) m.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.core.nflows.base import Bijection
from genlab.core.nflows.made import MADE


class _AffineAutoregressive(Bijection):
    def __init__(
        self,
        features: int,
        hidden: int = 64,
        depth: int = 2,
        context_features: int = 0,
        order: torch.Tensor | None = None,
    ):
        super().__init__()
        self.features = features
        self.made = MADE(features, hidden, depth, 2, context_features, order)

    def shift_log_scale(
        self, u: torch.Tensor, context: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _pass(self, u, context):
        shift, log_s = self.shift_log_scale(u, context)
        return u * log_s.exp() + shift, log_s.sum(1)

    def _solve(self, v, context):
        u = torch.zeros_like(v)
        for _ in range(self.features):  # after pass k every entry of degree <= k is exact
            shift, log_s = self.shift_log_scale(u, context)
            u = (v - shift) * torch.exp(-log_s)
        return u, -log_s.sum(1)


class MAF(_AffineAutoregressive):
    """Masked autoregressive flow layer: one-pass ``forward`` (data -> base), sequential ``inverse``."""

    def shift_log_scale(self, u, context):
        mu, alpha = self.made(u, context).unbind(1)
        return -mu * torch.exp(-alpha), -alpha

    def forward(self, x, context=None):
        return self._pass(x, context)

    def inverse(self, z, context=None):
        return self._solve(z, context)


class IAF(_AffineAutoregressive):
    """Inverse autoregressive flow layer: one-pass ``inverse`` (base -> sample), sequential ``forward``."""

    def shift_log_scale(self, u, context):
        m, s = self.made(u, context).unbind(1)
        return (1 - torch.sigmoid(s + 2.0)) * m, F.logsigmoid(s + 2.0)

    def forward(self, x, context=None):
        return self._solve(x, context)

    def inverse(self, z, context=None):
        return self._pass(z, context)
