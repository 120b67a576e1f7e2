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
from genlab.core.ode import integrate, integrate_adaptive, time_grid
from genlab.core.tensors import append_dims, check_finite

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
    **cond,
) -> torch.Tensor:
    """E ||v(x_t, t) - u_t||^2 with t ~ U[0, 1] per sample; x1 defaults to Gaussian noise.

    ``coupling(x0, x1, labels=...)`` re-pairs the batch first (minibatch OT, Schrodinger bridge).
    """
    check_finite(x0, "data batch")
    x1 = torch.randn_like(x0) if x1 is None else x1
    if coupling is not None:
        x0, x1 = coupling(x0, x1, labels=cond.get("y"))
    t = torch.rand(x0.shape[0], device=x0.device, dtype=x0.dtype)
    xt, target = path_sample(path, x0, x1, t)
    return (model(xt, t, **cond) - target).square().flatten(1).sum(1).mean()


@torch.no_grad()
def sample_flow(
    model: nn.Module, x1: torch.Tensor, steps: int = 50, method: str = "heun", **cond
) -> torch.Tensor:
    """Integrate the learned velocity from the source ``x1`` at t = 1 to data at t = 0.

    ``method`` is a fixed-step method of ``genlab.core.ode`` or ``dopri5`` (adaptive; ``steps`` unused).
    """
    velocity = lambda x, t: model(x, t, **cond)  # noqa: E731
    if method == "dopri5":
        return integrate_adaptive(velocity, x1, atol=1e-5, rtol=1e-5)
    return integrate(velocity, x1, time_grid(steps, (x1.shape[0],), device=x1.device), method)
