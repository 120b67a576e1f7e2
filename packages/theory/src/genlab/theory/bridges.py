"""Diffusion bridges on constrained domains: x-bridges, Omega-bridges and bridge matching.

Liu, Wu, Ye, Liu, "Let us Build Bridges: Understanding and Extending Diffusion Generative Models"
(arXiv 2208.14699); ICLR 2023 version "Learning Diffusion Bridges on Constrained Domains". A bridge
is a process pinned to end in a set: conditioning the base process dZ = sigma dW on Z_T = x (an
x-bridge) or on Z_T in Omega (an Omega-bridge, by Doob's h-transform) makes every path end there.
A generative model adds a learned drift to the Omega-bridge, so that each of its samples lands in
Omega whatever the network does, and bridge matching fits that drift by regression on x-bridges,
whose marginals are closed form.

Time. The paper runs s from a fixed start z0 (s = 0) to the data (s = T). Here, as everywhere in
genlab, t = 0 is the data and t = 1 the start; the conversion is made once, through the variance
that the base process still has to add, v(t) = beta_T - beta_s = V t (a constant sigma^2, so the
x-bridge is a Brownian bridge). Drifts are written per unit of variance: a step from t to s < t adds
dv = V (t - s), z <- z + b dv + sqrt(dv) eps.

  x-bridge      Z_t | x ~ N(z0 + (1 - t)(x - z0), V t (1 - t)),       drift (x - z) / v
  Omega-bridge  h_Omega(z, t) = P(Z_0 in Omega | Z_t = z),           drift grad_z log h_Omega
                = sum_{x in Omega} N(x; z, v)                        (discrete Omega)
                = Phi((b - z) / sqrt v) - Phi((a - z) / sqrt v)      (an interval [a, b], b may be inf)
  model         drift grad log h_Omega(z, t) + f(z, t)
  matching      f(Z_t, t) regressed on (x - Z_t) / v - grad log h_Omega(Z_t, t), x ~ data

The network predicts sqrt(v) f, which has unit scale at every t (any positive weighting keeps the
regression's minimiser, the conditional mean). For a finite Omega that minimiser is closed form,
E[(x - z) / v | Z_t = z] - grad log h_Omega, with x's posterior p(x) N(z; mean_t(x), V t (1 - t)):
``oracle_drift`` is the exact drift that the learned one is compared with.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from genlab.core.likelihood import gaussian_log_prob
from genlab.core.tensors import append_dims, check_finite

Drift = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - e^x) for x <= 0, accurate at both ends (Maechler 2012)."""
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


class Domain:
    """A set Omega in R^D with the h-function of the Brownian motion that must end in it."""

    dim: int

    def log_h(self, z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """log h_Omega(z, v) for z [B, D] and the remaining variance v [B]; shape [B]."""
        raise NotImplementedError

    def grad_log_h(self, z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """grad_z log h_Omega(z, v), shape [B, D]: the Omega-bridge's drift per unit variance."""
        raise NotImplementedError

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """The nearest point of Omega (rounding, argmax, clamping)."""
        raise NotImplementedError

    def contains(self, z: torch.Tensor, tol: float = 0.0) -> torch.Tensor:
        """Whether each z [B, D] lies within ``tol`` of Omega, shape [B]."""
        return (z - self.project(z)).norm(dim=-1) <= tol

    def _check(self, z: torch.Tensor, v: torch.Tensor) -> None:
        if z.ndim != 2 or z.shape[1] != self.dim or v.shape != z.shape[:1]:
            raise ValueError(
                f"expected z [B, {self.dim}] and v [B], got {tuple(z.shape)} and {tuple(v.shape)}"
            )
        if (v <= 0).any():
            raise ValueError("the remaining variance v must be positive (the bridge ends at v = 0)")


class DiscreteDomain(Domain):
    """A finite Omega = {x_1, ..., x_M} in R^D (``points`` [M, D])."""

    def __init__(self, points: torch.Tensor):
        if points.ndim != 2 or len(points) < 1:
            raise ValueError(f"points must have shape [M, D] with M >= 1, got {tuple(points.shape)}")
        check_finite(points, "points")
        self.points, self.dim = points, points.shape[1]

    def _logits(self, z, v):
        self._check(z, v)
        pts = self.points.to(z)
        return -torch.cdist(z, pts).square() / (2 * v[:, None]), pts  # log N(x_m; z, v) up to a constant

    def log_h(self, z, v):
        logits, _ = self._logits(z, v)
        return torch.logsumexp(logits, -1) - 0.5 * self.dim * torch.log(2 * math.pi * v)

    def mean(self, z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """E[x | Z_t = z] under h's weights N(x; z, v): the end of the Omega-bridge on average."""
        logits, pts = self._logits(z, v)
        return torch.softmax(logits, -1) @ pts

    def grad_log_h(self, z, v):
        return (self.mean(z, v) - z) / v[:, None]  # sum_x w_x (x - z) / v

    def index(self, z: torch.Tensor) -> torch.Tensor:
        """The index of the nearest point of Omega, shape [B]."""
        return torch.cdist(z, self.points.to(z)).argmin(-1)

    def project(self, z):
        return self.points.to(z)[self.index(z)]

    def pmf(self, z: torch.Tensor) -> torch.Tensor:
        """The empirical pmf over Omega of the projected samples, shape [M]."""
        return torch.bincount(self.index(z), minlength=len(self.points)).double() / len(z)


def integer_grid(size: int) -> DiscreteDomain:
    """Omega = {0, ..., size - 1}^2."""
    r = torch.arange(size, dtype=torch.float64)
    return DiscreteDomain(torch.cartesian_prod(r, r))


def one_hot(k: int) -> DiscreteDomain:
    """Omega = {e_1, ..., e_k} in R^k: a categorical variable (K = 3..20 in the paper's tables)."""
    if k < 2:
        raise ValueError(f"a categorical set needs k >= 2 classes, got {k}")
    return DiscreteDomain(torch.eye(k, dtype=torch.float64))


class Interval(Domain):
    """Omega = [low, high]^D; ``high = inf`` gives [low, inf), whose h is a single Gaussian CDF."""

    def __init__(self, low: float = 0.0, high: float = 1.0, dim: int = 1):
        if not low < high or math.isnan(low) or math.isinf(low):
            raise ValueError(f"need a finite low < high, got [{low}, {high}]")
        self.low, self.high, self.dim = low, high, dim

    def _ends(self, z, v):
        self._check(z, v)
        sd = v.sqrt()[:, None]
        return (self.low - z) / sd, (self.high - z) / sd, sd

    def _log_mass(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """log(Phi(b) - Phi(a)) for a < b, computed on the side of the mode so nothing cancels."""
        if math.isinf(self.high):
            return torch.special.log_ndtr(-a)  # P(X >= low) = Phi(-a)
        flip = a > 0  # Phi(b) - Phi(a) = Phi(-a) - Phi(-b)
        lo, hi = torch.where(flip, -b, a), torch.where(flip, -a, b)
        log_hi = torch.special.log_ndtr(hi)
        return log_hi + _log1mexp(torch.special.log_ndtr(lo) - log_hi)

    def log_h(self, z, v):
        a, b, _ = self._ends(z, v)
        return self._log_mass(a, b).sum(-1)

    def grad_log_h(self, z, v):
        """(phi(a) - phi(b)) / (sqrt(v) (Phi(b) - Phi(a))) per coordinate, in log space."""
        a, b, sd = self._ends(z, v)
        log_mass = self._log_mass(a, b)
        log_phi_a, log_phi_b = (gaussian_log_prob(u.unsqueeze(-1), event_dims=1) for u in (a, b))
        return (torch.exp(log_phi_a - log_mass) - torch.exp(log_phi_b - log_mass)) / sd

    def project(self, z):
        return z.clamp(self.low, self.high)

    def contains(self, z, tol: float = 0.0):
        return ((z >= self.low - tol) & (z <= self.high + tol)).all(-1)


class Bridge:
    """The base process dZ = dW (in variance) from ``start`` z0 at t = 1, with ``total_var`` V."""

    def __init__(self, start: torch.Tensor, total_var: float):
        if total_var <= 0:
            raise ValueError(f"total_var must be positive, got {total_var}")
        self.start, self.total_var = torch.as_tensor(start, dtype=torch.float64), float(total_var)

    def var_left(self, t: torch.Tensor) -> torch.Tensor:
        """v(t) = V t: the variance still to be added before the data (t = 0)."""
        return self.total_var * t

    def marginal(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean [B, D] and std [B] of the x-bridge Z_t | Z_0 = x, Z_1 = z0."""
        z0 = self.start.to(x)
        return z0 + append_dims(1 - t, 2) * (x - z0), (self.total_var * t * (1 - t)).sqrt()

    def sample_marginal(self, x, t, noise: torch.Tensor | None = None):
        mean, std = self.marginal(x, t)
        return mean + std[:, None] * (torch.randn_like(x) if noise is None else noise)

    def matching_target(self, x: torch.Tensor, z: torch.Tensor, t: torch.Tensor, domain: Domain):
        """The x-bridge's drift minus the Omega-bridge's, (x - z) / v - grad log h_Omega(z, v).

        For a discrete Omega it is written (x - E_h[x | z]) / v, which stays exact where both
        drifts blow up (v -> 0)."""
        v = self.var_left(t)
        if isinstance(domain, DiscreteDomain):
            return (x - domain.mean(z, v)) / v[:, None]
        return (x - z) / v[:, None] - domain.grad_log_h(z, v)


class BridgeDrift(nn.Module):
    """f(z, t) = net(z, t) / sqrt(v(t)): a network of unit output scale as the learned drift."""

    def __init__(self, net: nn.Module, bridge: Bridge):
        super().__init__()
        self.net, self.bridge = net, bridge

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        p = next(self.net.parameters(), z)  # the network runs in its own dtype, the bridge in z's
        out = self.net(z.to(p.dtype), t.to(p.dtype)).to(z.dtype)
        return out / self.bridge.var_left(t.to(z.dtype)).sqrt()[:, None]


def bridge_matching_loss(
    drift: BridgeDrift,
    x: torch.Tensor,
    domain: Domain,
    *,
    t_min: float = 1e-4,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """E || sqrt(v) (f(Z_t, t) - target) ||^2 with Z_t from the x-bridge of each data point x [B, D]
    and t log-uniform on [t_min, 1]: in expectation the paper's likelihood weighting, a constant times
    the integral of ||f - target||^2 d beta, with its draws where the sampler spends its steps."""
    check_finite(x, "x")
    if t is None:
        t = t_min ** torch.rand(len(x), dtype=x.dtype, device=x.device)
    bridge = drift.bridge
    z = bridge.sample_marginal(x, t, noise)
    scale = bridge.var_left(t).sqrt()[:, None]
    loss = (scale * (drift(z, t) - bridge.matching_target(x, z, t, domain))).square().sum(-1).mean()
    return loss, {"loss": float(loss.detach())}


def geometric_grid(steps: int, t_min: float = 1e-5) -> torch.Tensor:
    """steps + 1 times from 1 down to t_min, geometric (the bridge's action is near t = 0), then 0."""
    if steps < 1 or not 0 < t_min < 1:
        raise ValueError(f"need steps >= 1 and 0 < t_min < 1, got {steps}, {t_min}")
    t = torch.logspace(0, math.log10(t_min), steps, dtype=torch.float64)
    return torch.cat([t, t.new_zeros(1)])


@torch.no_grad()
def sample_bridge(
    bridge: Bridge,
    domain: Domain,
    n: int,
    grid: torch.Tensor,
    drift: Drift | None = None,
    generator: torch.Generator | None = None,
    return_path: bool = False,
) -> torch.Tensor:
    """Euler-Maruyama on dZ = (grad log h_Omega + f) dv + dW_v from z0 at t = grid[0] to t = 0.

    The last step, from v = v(grid[-2]) to 0, moves to the mean of the Omega-bridge's exact final
    transition, E[X | X in Omega] for X ~ N(z, v), which is z + v grad log h_Omega (f's share of that
    step, v f, is dropped). It is a point of the convex hull of Omega, and a point of Omega itself once
    v is far below the squared spacing of a discrete Omega. Returns [n, D] (or the path [K+1, n, D]).
    """
    if grid.ndim != 1 or grid[-1] != 0 or (grid[1:] >= grid[:-1]).any():
        raise ValueError("grid must be a 1-D decreasing sequence of times ending at t = 0")
    z = bridge.start.to(torch.float64).expand(n, domain.dim).clone()
    path = [z]
    for t, s in zip(grid[:-1].tolist(), grid[1:].tolist()):
        tt = torch.full((n,), t, dtype=torch.float64)
        v = bridge.var_left(tt)
        b = domain.grad_log_h(z, v)
        if s == 0:
            z = z + v[:, None] * b
        else:
            if drift is not None:
                b = b + drift(z, tt)
            dv = v - bridge.var_left(torch.full_like(tt, s))
            eps = torch.randn(z.shape, generator=generator, dtype=z.dtype)
            z = z + dv[:, None] * b + dv.sqrt()[:, None] * eps
        path.append(z)
    return torch.stack(path) if return_path else z


def oracle_drift(bridge: Bridge, domain: DiscreteDomain, probs: torch.Tensor) -> Drift:
    """The exact minimiser of bridge matching for data with pmf ``probs`` [M] on a finite Omega:
    f*(z, t) = E[(x - z) / v | Z_t = z] - grad log h_Omega(z, v), x's posterior proportional to
    p(x) N(z; z0 + (1 - t)(x - z0), V t (1 - t)); with u = z - z0 its log is, up to a constant,
    log p(x) + (u.(x - z0) - (1 - t) ||x - z0||^2 / 2) / (V t), finite at the start t = 1."""
    if probs.shape != domain.points.shape[:1] or (probs < 0).any():
        raise ValueError(f"probs must be a pmf over the {len(domain.points)} points of Omega")
    log_p = probs.double().log()

    def drift(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        zd, td = z.double(), t.double()
        d = domain.points.double() - bridge.start  # x - z0, [M, D]
        v = bridge.var_left(td)
        logits = log_p + ((zd - bridge.start) @ d.T - (1 - td)[:, None] * d.square().sum(-1) / 2) / v[:, None]
        x_bar = torch.softmax(logits, -1) @ domain.points.double()
        return ((x_bar - domain.mean(zd, v)) / v[:, None]).to(z)

    return drift


@torch.no_grad()
def relative_drift_error(
    drift: Drift, exact: Drift, bridge: Bridge, x: torch.Tensor, t_min: float = 1e-4
) -> float:
    """E[v ||f - f*||^2] / E[v ||f*||^2] on x-bridge marginals of the data x [B, D], t log-uniform on
    [t_min, 1]: bridge matching's excess loss relative to the size of the exact drift f*."""
    t = t_min ** torch.rand(len(x), dtype=x.dtype)
    z = bridge.sample_marginal(x, t)
    v = bridge.var_left(t)
    f_star = exact(z, t)
    return float((v * (drift(z, t) - f_star).square().sum(-1)).mean() / (v * f_star.square().sum(-1)).mean())


def total_variation(p: torch.Tensor, q: torch.Tensor) -> float:
    """TV(p, q) = sum |p - q| / 2 of two pmfs on the same points."""
    if p.shape != q.shape:
        raise ValueError(f"pmfs of different supports: {tuple(p.shape)} vs {tuple(q.shape)}")
    return float((p.double() - q.double()).abs().sum() / 2)
