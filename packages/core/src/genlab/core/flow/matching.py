"""Conditional flow matching (Lipman et al. 2023, "Flow Matching for Generative Modeling"; Liu et
al. 2023, "Flow Straight and Fast"; Tong et al. 2024 for couplings).

In genlab's time direction (t = 0 data x0, t = 1 source x1, usually noise) an affine path gives
    x_t = alpha(t) x0 + sigma(t) x1,    u_t(x_t | x0, x1) = alpha'(t) x0 + sigma'(t) x1,
and the CFM loss E ||v(x_t, t) - u_t||^2 has the marginal velocity as its minimiser (Lipman,
Theorem 2), for any coupling of (x0, x1) (Tong et al.). The linear path alpha = 1 - t, sigma = t
gives u_t = x1 - x0. Sampling integrates dx/dt = v from t = 1 down to t = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from genlab.core.diffusion.schedules import RectifiedFlow, Schedule
from genlab.core.flow.couplings import entropic_ot
from genlab.core.flow.interpolants import Interpolant, sample_time
from genlab.core.grids import time_grid
from genlab.core.ode import integrate, integrate_adaptive
from genlab.core.tensors import append_dims, check_finite, model_device

LINEAR = RectifiedFlow()


def path_sample(
    path: Schedule, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, u_t): the point on the path from data x0 (t = 0) to source x1 (t = 1) and its velocity."""
    a, s = (append_dims(c, x0.ndim) for c in path.alpha_sigma(t))
    da, ds = (append_dims(c, x0.ndim) for c in path.d_alpha_sigma(t))
    return a * x0 + s * x1, da * x0 + ds * x1


def cfm_loss(
    model: nn.Module,
    x0: torch.Tensor,
    x1: torch.Tensor | None = None,
    path: Schedule = LINEAR,
    coupling: Callable | None = None,
    t_min: float = 0.0,
    **cond,
) -> torch.Tensor:
    """E ||v(x_t, t) - u_t||^2 with t ~ U[0, 1] per sample; x1 defaults to Gaussian noise.

    ``coupling(x0, x1, labels=...)`` re-pairs the batch first (minibatch OT). ``t_min > 0`` keeps t
    away from 0 for paths whose sigma'(0) is infinite (VP: sigma' = beta alpha^2 / (2 sigma)).
    """
    check_finite(x0, "data batch")
    x1 = torch.randn_like(x0) if x1 is None else x1
    if coupling is not None:
        x0, x1 = coupling(x0, x1, labels=cond.get("y"))
    t = t_min + (1 - t_min) * torch.rand(x0.shape[0], device=x0.device, dtype=x0.dtype)
    xt, target = path_sample(path, x0, x1, t)
    return (model(xt, t, **cond) - target).square().flatten(1).sum(1).mean()


def sb_cfm_loss(
    model: nn.Module, x0: torch.Tensor, x1: torch.Tensor, sigma: float = 0.5, **cond
) -> torch.Tensor:
    """Schrodinger-bridge CFM (Tong et al. 2024): pairs drawn from the entropic OT plan (reg 2 sigma^2)
    joined by the Brownian bridge x_t = (1 - t) x0 + t x1 + sigma sqrt(t (1 - t)) z, whose conditional
    velocity is u_t = x1 - x0 + (1 - 2t) / (2 t (1 - t)) (x_t - mu_t): the linear stochastic interpolant
    with gamma^2 = sigma^2 t (1 - t)."""
    check_finite(x0, "data batch")
    x0, x1 = entropic_ot(x0, x1, sigma=sigma)
    t = sample_time(x0.shape[0], x0.device, x0.dtype)
    xt, target, _ = Interpolant("linear", a=sigma**2).sample(x0, x1, t)
    return (model(xt, t, **cond) - target).square().flatten(1).sum(1).mean()


@torch.no_grad()
def sample_flow(
    model: nn.Module,
    x1: torch.Tensor,
    steps: int = 50,
    method: str = "heun",
    *,
    cond: dict | None = None,
) -> torch.Tensor:
    """Integrate the learned velocity from the source ``x1`` at t = 1 to data at t = 0.

    ``method`` is a fixed-step method of ``genlab.core.ode`` or ``dopri5`` (adaptive; ``steps`` unused);
    ``cond`` is a dict handed to the model as keywords, as in every sampler.
    """
    velocity = lambda x, t: model(x, t, **(cond or {}))  # noqa: E731
    x = x1.to(model_device(model, x1.device))  # results come back on x1's device
    if method == "dopri5":
        return integrate_adaptive(velocity, x, atol=1e-5, rtol=1e-5).to(x1.device)
    return integrate(velocity, x, time_grid(steps, (x.shape[0],), device=x.device), method).to(x1.device)
