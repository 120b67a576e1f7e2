"""Stochastic interpolants (Albergo and Vanden-Eijnden 2023, "Building Normalizing Flows with
Stochastic Interpolants"; Albergo, Boffi and Vanden-Eijnden 2023, "Stochastic Interpolants").

    x_t = alpha(t) x0 + beta(t) x1 + gamma(t) z,    z ~ N(0, I),

between any two distributions: x0 ~ rho_0 (data, t = 0) and x1 ~ rho_1 (t = 1, noise or another
data set). The velocity b(x, t) = E[d x_t / dt | x_t = x] minimises the quadratic objective
    G(v) = E[ |v(x_t, t)|^2 - 2 (d x_t / dt) . v(x_t, t) ],
and where gamma > 0 the score is s(x, t) = -E[z | x_t = x] / gamma(t), learned by regressing z.
Probability-flow sampling integrates dx/dt = b; SDE sampling from t = 1 down to t = 0 uses
dX = (b - eps s) dt + sqrt(2 eps) dW with the same marginals for any eps >= 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from genlab.core.grids import time_grid
from genlab.core.tensors import append_dims, model_device


@dataclass(frozen=True)
class Interpolant:
    """Coefficients (alpha, beta) of a two-sided interpolant and the noise scale gamma(t) = sqrt(a t (1 - t))."""

    kind: str = "linear"  # linear: alpha = 1 - t, beta = t; trig: alpha = cos(pi t / 2), beta = sin(pi t / 2)
    a: float = 0.0  # gamma^2 = a t (1 - t); a = 0 is a deterministic interpolant

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(alpha, beta, gamma, d alpha, d beta, d gamma) at t."""
        if self.kind == "linear":
            alpha, beta, da, db = 1 - t, t, -torch.ones_like(t), torch.ones_like(t)
        elif self.kind == "trig":
            h = math.pi / 2
            alpha, beta, da, db = (
                torch.cos(h * t),
                torch.sin(h * t),
                -h * torch.sin(h * t),
                h * torch.cos(h * t),
            )
        else:
            raise ValueError(f"unknown interpolant {self.kind!r}: use 'linear' or 'trig'")
        gamma = (self.a * t * (1 - t)).clamp_min(0).sqrt()
        dgamma = self.a * (1 - 2 * t) / (2 * gamma.clamp_min(1e-12)) if self.a > 0 else torch.zeros_like(t)
        return alpha, beta, gamma, da, db, dgamma

    def sample(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, z: torch.Tensor | None = None):
        """(x_t, d x_t / dt, z) for per-sample t."""
        z = torch.randn_like(x0) if z is None else z
        alpha, beta, gamma, da, db, dg = (append_dims(c, x0.ndim) for c in self.coefficients(t))
        return alpha * x0 + beta * x1 + gamma * z, da * x0 + db * x1 + dg * z, z


def sample_time(n: int, device=None, dtype=None, eps: float = 1e-3) -> torch.Tensor:
    """t ~ U[eps, 1 - eps]: d gamma / dt diverges at the ends when gamma > 0."""
    return eps + (1 - 2 * eps) * torch.rand(n, device=device, dtype=dtype)


def velocity_objective(
    model: nn.Module, interpolant: Interpolant, x0: torch.Tensor, x1: torch.Tensor, **cond
):
    """G(v) = E[|v|^2 - 2 (d x_t/dt) . v]: minimised by the true velocity b (its value there is -E|b|^2)."""
    t = sample_time(x0.shape[0], x0.device, x0.dtype)
    xt, dxt, _ = interpolant.sample(x0, x1, t)
    v = model(xt, t, **cond)
    return (v.square() - 2 * dxt * v).flatten(1).sum(1).mean()


@torch.no_grad()
def sample_sde(
    velocity: nn.Module,
    denoiser: nn.Module,
    interpolant: Interpolant,
    x1: torch.Tensor,
    steps: int = 200,
    eps: float = 1.0,
    generator: torch.Generator | None = None,
    t_end: float = 1e-3,
) -> torch.Tensor:
    """Euler-Maruyama from t = 1 to ~0 on dX = (b - eps s) dt + sqrt(2 eps) dW, s = -eta / gamma.

    The diffusion eps(t) is taken proportional to gamma(t)^2 / a so that it vanishes at the ends.
    """
    if interpolant.a <= 0:
        raise ValueError("SDE sampling needs the score, so gamma > 0 (a > 0); use the ODE for a = 0")
    x = x1.to(model_device(velocity, x1.device))
    grid = time_grid(steps, (x.shape[0],), t_max=1 - t_end, t_min=t_end, device=x.device, dtype=x.dtype)
    for t0, t1 in zip(grid[:-1], grid[1:]):
        _, _, gamma, *_ = interpolant.coefficients(t0)
        g = append_dims(gamma, x.ndim)
        eps_t = eps * g.square() / max(interpolant.a, 1e-12)
        score = -denoiser(x, t0) / g
        h = append_dims(t1 - t0, x.ndim)  # negative: time runs backwards
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x = x + (velocity(x, t0) - eps_t * score) * h + (2 * eps_t * h.abs()).sqrt() * noise
    return x.to(x1.device)
