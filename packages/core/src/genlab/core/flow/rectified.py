"""Rectified flow (Liu, Gong and Liu 2023, "Flow Straight and Fast"): reflow, one-step distillation
and the paper's diagnostics.

Reflow simulates the learned ODE to couple each noise draw Z1 with the data point Z0 it reaches
and retrains on those pairs; Theorem 3.5: the transport cost E c(Z0 - Z1) does not increase for
any convex c; Theorem 3.7: straightness S(Z) = int_0^1 E ||(Z1 - Z0) - dZ_t/dt||^2 dt falls like
O(1/k) after k reflows. Time runs from noise (t = 1) to data (t = 0), as everywhere in genlab.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.grids import time_grid
from genlab.core.ode import integrate
from genlab.core.tensors import model_device


@torch.no_grad()
def simulate(
    model: nn.Module, noise: torch.Tensor, steps: int = 100, method: str = "rk4", **cond
) -> torch.Tensor:
    """The trajectory [K+1, B, ...] of dZ/dt = v(Z, t) from noise at t = 1 to t = 0."""
    x = noise.to(model_device(model, noise.device))
    grid = time_grid(steps, (x.shape[0],), device=x.device)
    return integrate(lambda x, t: model(x, t, **cond), x, grid, method, return_path=True).to(noise.device)


@torch.no_grad()
def reflow_pairs(model: nn.Module, noise: torch.Tensor, steps: int = 100, method: str = "rk4", **cond):
    """(data, noise) pairs coupled by the model's ODE: the training set of the next rectified flow."""
    return simulate(model, noise, steps, method, **cond)[-1], noise


def straightness(path: torch.Tensor) -> float:
    """S(Z) of a simulated trajectory on a uniform grid: mean over steps of ||(Z1 - Z0) - dZ_t/dt||^2.

    ``path`` is [K+1, B, ...] from t = 1 to t = 0; displacements are taken in the direction of travel.
    """
    steps = path.shape[0] - 1
    total = path[-1] - path[0]
    velocity = (path[1:] - path[:-1]) * steps
    return (velocity - total).flatten(2).square().sum(-1).mean().item()


def transport_cost(x_data: torch.Tensor, x_noise: torch.Tensor, cost: str = "quadratic") -> float:
    """E c(Z0 - Z1) for the quadratic ||.||^2 or L1 cost."""
    diff = (x_data - x_noise).flatten(1)
    if cost == "quadratic":
        return diff.square().sum(-1).mean().item()
    if cost == "l1":
        return diff.abs().sum(-1).mean().item()
    raise ValueError(f"unknown transport cost {cost!r}: use 'quadratic' or 'l1'")


def crossing_rate(x_data: torch.Tensor, x_noise: torch.Tensor, max_pairs: int = 400) -> float:
    """Fraction of pairs of straight 2D interpolation segments (Z1 -> Z0) that cross.

    A rectified coupling's straight interpolations do not cross (the paper's Figure 2); this counts
    proper intersections among the first ``max_pairs`` segments.
    """
    if x_data.ndim != 2 or x_data.shape[1] != 2:
        raise ValueError(f"crossings are counted for 2D points [N, 2], got {tuple(x_data.shape)}")
    p, q = x_noise[:max_pairs].double(), x_data[:max_pairs].double()

    def orient(a, b, c):  # sign of the cross product (b - a) x (c - a), for all pairs
        return torch.sign(
            (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1])
            - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
        )

    pi, qi, pj, qj = p[:, None], q[:, None], p[None, :], q[None, :]
    cross = (orient(pi, qi, pj) * orient(pi, qi, qj) < 0) & (orient(pj, qj, pi) * orient(pj, qj, qi) < 0)
    n = len(p)
    return cross.triu(1).sum().item() / (n * (n - 1) / 2)


def distill_loss(student: nn.Module, x_data: torch.Tensor, x_noise: torch.Tensor, **cond) -> torch.Tensor:
    """One-step distillation: Z1 - v(Z1, 1) should land on the paired Z0 (Liu et al., Sec. 2.3)."""
    t = torch.ones(x_noise.shape[0], device=x_noise.device, dtype=x_noise.dtype)
    return (x_noise - student(x_noise, t, **cond) - x_data).flatten(1).square().sum(1).mean()


@torch.no_grad()
def one_step(student: nn.Module, x_noise: torch.Tensor, **cond) -> torch.Tensor:
    """The distilled sampler: a single Euler step from t = 1 to t = 0."""
    x = x_noise.to(model_device(student, x_noise.device))
    t = torch.ones(x.shape[0], device=x.device, dtype=x.dtype)
    return (x - student(x, t, **cond)).to(x_noise.device)
