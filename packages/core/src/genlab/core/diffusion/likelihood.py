"""Exact log-likelihood of a diffusion model through its probability-flow ODE.

The probability-flow ODE dx/dt = velocity(x, t) (Song et al. 2021) of the ``Denoiser`` is handed to
``genlab.core.likelihood``; the prior at t_max is N(alpha m, alpha^2 v + sigma^2) at t_max for the data's
mean m and variance v (``prior_mean``, ``prior_var``): with the default m = v = 0 it is N(0, sigma^2),
exact only when alpha(t_max) = 0 and biased otherwise (EDM: alpha = 1).
Bits per dimension with dequantisation live in ``genlab.core.metrics``.
"""

from __future__ import annotations

import torch

from genlab.core import likelihood as flow_likelihood
from genlab.core.diffusion.parameterization import Denoiser
from genlab.core.diffusion.samplers import prior_moments


def log_likelihood(
    denoiser: Denoiser,
    x: torch.Tensor,
    *,
    t_max: float = 1.0,
    prior=None,
    prior_mean: torch.Tensor | float = 0.0,
    prior_var: torch.Tensor | float = 0.0,
    cond: dict | None = None,
    **options,
):
    """log p(x) in nats per sample; ``options`` go to ``genlab.core.likelihood.log_likelihood``.

    ``prior`` (a log-density of x at t_max) defaults to the Gaussian of ``prior_moments``."""
    cond = cond or {}
    if prior is None:
        as_x = {"dtype": x.dtype, "device": x.device}
        loc, std = prior_moments(
            denoiser.schedule,
            torch.tensor(t_max, **as_x),
            torch.as_tensor(prior_mean, **as_x),
            torch.as_tensor(prior_var, **as_x),
        )

        def prior(x1):
            return flow_likelihood.gaussian_log_prob(x1 - loc, std)

    return flow_likelihood.log_likelihood(
        lambda y, t: denoiser.velocity(y, t, **cond), x, prior, t_max=t_max, **options
    )
