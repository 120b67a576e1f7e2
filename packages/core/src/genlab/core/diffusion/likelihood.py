"""Exact log-likelihood of a diffusion model through its probability-flow ODE.

The probability-flow ODE dx/dt = velocity(x, t) (Song et al. 2021) of the ``Denoiser`` is handed to
``genlab.core.likelihood``; the prior at t_max is N(0, sigma(t_max)^2 I), exact when alpha(t_max) = 0.
Bits per dimension with dequantisation live in ``genlab.core.metrics``.
"""

from __future__ import annotations

import math

import torch

from genlab.core import likelihood as flow_likelihood
from genlab.core.diffusion.parameterization import Denoiser


def gaussian_log_prob(z: torch.Tensor, std: float | torch.Tensor = 1.0) -> torch.Tensor:
    """log N(z; 0, std^2 I), summed over all axes but the first."""
    d = z[0].numel()
    std = torch.as_tensor(std, dtype=z.dtype, device=z.device)
    return -0.5 * (z / std).flatten(1).square().sum(1) - d * (std.log() + 0.5 * math.log(2 * math.pi))


def log_likelihood(
    denoiser: Denoiser,
    x: torch.Tensor,
    *,
    t_max: float = 1.0,
    prior=None,
    cond: dict | None = None,
    **options,
):
    """log p(x) in nats per sample; ``options`` go to ``genlab.core.likelihood.log_likelihood``."""
    cond = cond or {}
    if prior is None:
        sigma = denoiser.schedule.alpha_sigma(torch.tensor(t_max, dtype=x.dtype, device=x.device))[1]

        def prior(x1):
            return gaussian_log_prob(x1, sigma)

    return flow_likelihood.log_likelihood(
        lambda y, t: denoiser.velocity(y, t, **cond), x, prior, t_max=t_max, **options
    )
