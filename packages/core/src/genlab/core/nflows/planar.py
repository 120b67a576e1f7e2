"""Planar and radial flows (Rezende & Mohamed 2015, "Variational Inference with Normalizing Flows").

Both maps f are closed-form only in Rezende's direction, z_k = f_k(z_{k-1}) from the base to the
sample, with log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz| (eq. 7).  In genlab's convention
(``genlab.core.nflows.base``) that is the generative direction, so f is the layer's ``inverse`` and
``forward`` (the normalising map, needed for log p of given data) raises NotImplementedError.  A flow
made of them samples and trains by reverse KL; it cannot score data it did not draw.

The invertibility constraints of Appendix A are built into the parameterisation:
planar u_hat = u + (m(w^T u) - w^T u) w / |w|^2 with m(a) = -1 + softplus(a), so w^T u_hat > -1;
radial alpha = softplus(a) > 0 and beta = -alpha + softplus(b) > -alpha.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.nflows.base import Bijection, check_features


class _GenerativeOnly(Bijection):
    def forward(self, x, context=None):
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form inverse: it is defined in the generative direction "
            "(base -> sample, the layer's `inverse`); use it for sampling and reverse-KL training"
        )


class Planar(_GenerativeOnly):
    """f(z) = z + u_hat tanh(w^T z + b) (eq. 10), det df/dz = 1 + u_hat^T psi(z), psi = h'(w^T z + b) w."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        bound = 1 / math.sqrt(dim)
        self.u = nn.Parameter(torch.empty(dim).uniform_(-bound, bound))
        self.w = nn.Parameter(torch.empty(dim).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> torch.Tensor:
        wu = self.w @ self.u
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / (self.w @ self.w)

    def inverse(self, z, context=None):
        check_features(z, 2, self.dim, name="z")
        u = self.u_hat()
        a = z @ self.w + self.b
        x = z + u * torch.tanh(a)[:, None]
        return x, torch.log1p((1 - torch.tanh(a) ** 2) * (self.w @ u))


class Radial(_GenerativeOnly):
    """f(z) = z + beta h(alpha, r)(z - z0), h = 1 / (alpha + r), r = |z - z0| (eq. 14),
    det = (1 + beta h)^(d-1) (1 + beta h + beta h'(alpha, r) r)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.z0 = nn.Parameter(torch.randn(dim) / math.sqrt(dim))
        self.raw_alpha = nn.Parameter(torch.zeros(()))
        self.raw_beta = nn.Parameter(torch.zeros(()))

    def alpha_beta(self) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = F.softplus(self.raw_alpha)
        return alpha, F.softplus(self.raw_beta) - alpha

    def inverse(self, z, context=None):
        check_features(z, 2, self.dim, name="z")
        alpha, beta = self.alpha_beta()
        diff = z - self.z0
        r = diff.norm(dim=1)
        h = 1 / (alpha + r)
        x = z + (beta * h)[:, None] * diff
        logdet = (self.dim - 1) * torch.log1p(beta * h) + torch.log1p(beta * h - beta * h**2 * r)
        return x, logdet
