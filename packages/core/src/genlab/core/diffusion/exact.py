"""The exact denoiser of an isotropic Gaussian mixture, under any schedule: the library's oracle.

If x0 ~ sum_k w_k N(mu_k, s_k^2 I) and x_t = alpha x0 + sigma eps, then x_t is again a mixture,
N(alpha mu_k, (alpha^2 s_k^2 + sigma^2) I), and Tweedie's formula gives
E[x0 | x_t] = sum_k r_k(x_t) (mu_k + alpha s_k^2 / (alpha^2 s_k^2 + sigma^2) (x_t - alpha mu_k)),
with r_k the posterior component weights. Samplers, likelihoods and distillation targets are
tested against it (and it is the ideal model for sampler benchmarks).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genlab.core.data.mixtures import GaussianMixture
from genlab.core.diffusion.schedules import Schedule
from genlab.core.tensors import append_dims, check_time


class MixtureDenoiser(nn.Module):
    """``model(x_t, t) -> E[x0 | x_t]`` (kind 'x0') for x of shape [*t_shape, ..., D], in float64.

    The last axis is the mixture's dimension; every other element is noised independently.
    """

    def __init__(self, mixture: GaussianMixture, schedule: Schedule):
        super().__init__()
        self.mixture, self.schedule = mixture, schedule

    def _terms(self, x: torch.Tensor, t: torch.Tensor):
        check_time(t, x)
        m = self.mixture
        if x.shape[-1] != m.dim:
            raise ValueError(f"last axis of x must be {m.dim}, got {x.shape[-1]}")
        x = x.to(torch.float64)
        a, s = (append_dims(c.to(torch.float64), x.ndim)[..., None] for c in self.schedule.alpha_sigma(t))
        mu, var0, logw = (v.to(x.device) for v in (m.means, m.stds.square()[:, None], m.weights.log()))
        var = a**2 * var0 + s**2  # noised component variances, [..., K, 1]
        diff = x[..., None, :] - a * mu  # [..., K, D]
        logits = logw - 0.5 * (diff**2 / var).sum(-1) - 0.5 * m.dim * torch.log(2 * math.pi * var[..., 0])
        return mu + a * var0 / var * diff, logits  # per-component posterior means, log p(k, x_t)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        post, logits = self._terms(x, t)
        return (torch.softmax(logits, -1)[..., None] * post).sum(-2).to(x.dtype)

    def log_prob(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log p_t(x_t) of the noised mixture, summed over the last axis, shape x.shape[:-1]."""
        return torch.logsumexp(self._terms(x, t)[-1], -1).to(x.dtype)
