"""Conditional flow matching on the linear path (Lipman et al. 2023, "Flow Matching for
Generative Modeling"; Liu et al. 2023, "Flow Straight and Fast").

In genlab's time direction (t = 0 data, t = 1 noise) the linear path is
    x_t = (1 - t) x_0 + t x_1,    u_t(x_t | x_0, x_1) = x_1 - x_0,
and the CFM loss E ||v(x_t, t) - (x_1 - x_0)||^2 has the marginal velocity as its minimiser
(Lipman, Theorem 2). Sampling integrates dx/dt = v from t = 1 down to t = 0.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.ode import integrate, time_grid
from genlab.core.tensors import append_dims, check_finite


def linear_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, u_t) on the straight line from data x0 (t = 0) to noise x1 (t = 1)."""
    tt = append_dims(t, x0.ndim)
    return (1 - tt) * x0 + tt * x1, x1 - x0


def cfm_loss(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor | None = None, **cond) -> torch.Tensor:
    """Mean squared error between v(x_t, t) and the conditional velocity, t ~ U[0, 1] per sample."""
    check_finite(x0, "data batch")
    x1 = torch.randn_like(x0) if x1 is None else x1
    t = torch.rand(x0.shape[0], device=x0.device, dtype=x0.dtype)
    xt, target = linear_path(x0, x1, t)
    return (model(xt, t, **cond) - target).square().flatten(1).sum(1).mean()


@torch.no_grad()
def sample_flow(
    model: nn.Module, x1: torch.Tensor, steps: int = 50, method: str = "heun", **cond
) -> torch.Tensor:
    """Integrate the learned velocity from noise ``x1`` at t = 1 to data at t = 0."""
    grid = time_grid(steps, (x1.shape[0],), device=x1.device)
    return integrate(lambda x, t: model(x, t, **cond), x1, grid, method)
