"""Isotropic Gaussian mixtures: sampling, exact log-density and exact score.

They are the oracles of the library: a mixture stays a mixture under Gaussian noising, so its
score at every noise level is closed form.
"""

from __future__ import annotations

import math

import torch


class GaussianMixture:
    """p(x) = sum_k w_k N(x; mu_k, s_k^2 I) with means [K, D], stds [K] and weights [K]."""

    def __init__(self, means: torch.Tensor, stds: torch.Tensor | float, weights: torch.Tensor | None = None):
        self.means = torch.as_tensor(means, dtype=torch.float64)
        if self.means.ndim != 2:
            raise ValueError(f"means must have shape [K, D], got {tuple(self.means.shape)}")
        k = self.means.shape[0]
        self.stds = torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()
        w = (
            torch.ones(k, dtype=torch.float64)
            if weights is None
            else torch.as_tensor(weights, dtype=torch.float64)
        )
        if (w < 0).any() or w.shape != (k,):
            raise ValueError("weights must be K non-negative numbers")
        self.weights = w / w.sum()

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.means[k] + self.stds[k, None] * z).float()

    def _log_resp_terms(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        d2 = torch.cdist(x, self.means).square()
        var = self.stds.square()
        return self.weights.log() - 0.5 * d2 / var - 0.5 * self.dim * torch.log(2 * math.pi * var)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self._log_resp_terms(x), dim=-1).to(x.dtype)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """grad_x log p(x) = sum_k r_k(x) (mu_k - x) / s_k^2."""
        r = torch.softmax(self._log_resp_terms(x), dim=-1)
        xd = x.to(torch.float64)
        diff = (self.means[None] - xd[:, None]) / self.stds.square()[None, :, None]
        return (r[..., None] * diff).sum(1).to(x.dtype)
