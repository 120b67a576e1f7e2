"""The exact velocity and density of an interpolant between two isotropic Gaussian mixtures.

With x0 ~ sum_i w_i N(mu_i, s_i^2 I), x1 ~ sum_j u_j N(nu_j, r_j^2 I) independent and
x_t = alpha x0 + beta x1 + gamma z, x_t is a mixture over pairs (i, j) with means
m_ij = alpha mu_i + beta nu_j and variances V_ij = alpha^2 s_i^2 + beta^2 r_j^2 + gamma^2. Given
x_t and the pair, (x0, x1, z) are jointly Gaussian with x_t, so
    E[dx_t/dt | x_t, ij] = alpha' mu_i + beta' nu_j + (alpha' alpha s_i^2 + beta' beta r_j^2 + gamma' gamma) / V_ij (x_t - m_ij),
and the marginal velocity b averages these with the pair posteriors. It is the oracle for
flow-matching and interpolant tests and the theory experiments.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genlab.core.data.mixtures import GaussianMixture
from genlab.core.flow.interpolants import Interpolant
from genlab.core.tensors import append_dims, check_time


class MixtureInterpolant(nn.Module):
    """``b(x, t)`` and ``log_prob(x, t)`` of the interpolant from ``source`` (t = 0) to ``target`` (t = 1)."""

    def __init__(self, source: GaussianMixture, target: GaussianMixture, interpolant: Interpolant):
        super().__init__()
        if source.dim != target.dim:
            raise ValueError(f"mixtures of different dimension: {source.dim} and {target.dim}")
        self.source, self.target, self.interpolant = source, target, interpolant
        self.register_buffer("means0", source.means[:, None])  # [I, 1, D]
        self.register_buffer("means1", target.means[None, :])  # [1, J, D]
        self.register_buffer("var0", source.stds.square()[:, None])  # [I, 1]
        self.register_buffer("var1", target.stds.square()[None, :])  # [1, J]
        self.register_buffer("log_w", source.weights.log()[:, None] + target.weights.log()[None, :])

    def _terms(self, x: torch.Tensor, t: torch.Tensor):
        check_time(t, x[:, 0])
        x = x.double()
        a, b, g, da, db, dg = (append_dims(c.double(), 3) for c in self.interpolant.coefficients(t.double()))
        var = a**2 * self.var0 + b**2 * self.var1 + g**2  # [B, I, J]
        mean = a[..., None] * self.means0 + b[..., None] * self.means1  # [B, I, J, D]
        diff = x[:, None, None, :] - mean
        d = x.shape[1]
        logits = self.log_w - 0.5 * diff.square().sum(-1) / var - 0.5 * d * torch.log(2 * math.pi * var)
        gain = (da * a * self.var0 + db * b * self.var1 + dg * g) / var
        drift = da[..., None] * self.means0 + db[..., None] * self.means1 + gain[..., None] * diff
        return logits, drift

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The velocity b(x, t) = E[dx_t/dt | x_t = x]: the pairs' velocities under their posteriors."""
        logits, drift = self._terms(x, t)
        post = torch.softmax(logits.flatten(1), -1).view_as(logits)
        return (post[..., None] * drift).sum((1, 2)).to(x.dtype)

    def log_prob(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log rho_t(x) of the interpolant's marginal at t."""
        return torch.logsumexp(self._terms(x, t)[0].flatten(1), -1).to(x.dtype)
