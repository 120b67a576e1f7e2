"""Measurements of transport between two distributions, for the stochastic-interpolant and
rectified-flow experiments.

Stochastic interpolants (Albergo and Vanden-Eijnden 2023, "Building Normalizing Flows with
Stochastic Interpolants"): x_t = alpha(t) x0 + beta(t) x1 has a density rho_t that solves the
continuity equation d_t rho + div(b rho) = 0 with the velocity b(x, t) = E[dx_t/dt | x_t = x]
(their Proposition 1). Dividing by rho gives the form checked here pointwise,
    d_t log rho + div b + b . grad log rho = 0,
and b is checked as a conditional expectation by E[(dx_t/dt - b(x_t)) phi(x_t)] = 0 for test
functions phi. A learned velocity is scored by its error against the closed-form b of a Gaussian
mixture pair (genlab.core.flow.exact.MixtureInterpolant) and by its exact likelihood.

Rectified flow (Liu, Gong and Liu 2023, "Flow Straight and Fast"): Theorem 3.5, E c(Z1 - Z0) <=
E c(X1 - X0) for every convex c, is tested with several convex costs; Theorem 3.7,
min_{k<=K} S(Z^k) <= E||X1 - X0||^2 / K, follows from the per-reflow inequality
    S(Z^{k+1}) = E int ||dZ_t/dt||^2 dt - E||Z1 - Z0||^2 <= E||Z^k_1 - Z^k_0||^2 - E||Z^{k+1}_1 - Z^{k+1}_0||^2
(the velocity is a conditional mean, so its energy is at most that of the straight pairs), which
telescopes; both are checked on measured numbers. Both experiments compare couplings with the
exact optimal transport of the same points (genlab.core.flow.couplings.exact_ot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from genlab.core.flow.couplings import exact_ot
from genlab.core.flow.exact import MixtureInterpolant
from genlab.core.likelihood import log_likelihood
from genlab.core.lookup import lookup

# Even convex costs c(d) of a displacement d [N, D] (Theorem 3.5 holds for every convex c).
CONVEX_COSTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "quadratic": lambda d: d.square().sum(-1),
    "l1": lambda d: d.abs().sum(-1),
    "euclidean": lambda d: d.norm(dim=-1),
    "cubic": lambda d: d.norm(dim=-1).pow(3),
    "exp": lambda d: torch.exp(d.norm(dim=-1) / 2),
}


def coupling_costs(x_a: torch.Tensor, x_b: torch.Tensor, costs: Sequence[str] = tuple(CONVEX_COSTS)):
    """E c(x_b - x_a) over the pairs (x_a[i], x_b[i]) for each named convex cost."""
    if x_a.shape != x_b.shape or x_a.ndim != 2:
        raise ValueError(
            f"pairs must be two [N, D] tensors of one shape, got {tuple(x_a.shape)}, {tuple(x_b.shape)}"
        )
    d = (x_b - x_a).double()
    return {name: lookup("convex cost", name, CONVEX_COSTS)(d).mean().item() for name in costs}


def ot_cost(x_a: torch.Tensor, x_b: torch.Tensor) -> float:
    """The quadratic cost of the exact optimal assignment between two equal-size point sets."""
    x_a, x_b = exact_ot(x_a, x_b)
    return coupling_costs(x_a, x_b, ("quadratic",))["quadratic"]


def straightness_bound(straightness: Sequence[float], independent_cost: float) -> tuple[float, float]:
    """Theorem 3.7: (min_{k<=K} S(Z^k), E||X1 - X0||^2 / K) for the K measured straightnesses."""
    if not straightness:
        raise ValueError("need the straightness of at least one rectified flow")
    return min(straightness), independent_cost / len(straightness)


def continuity_residual(oracle: MixtureInterpolant, x: torch.Tensor, t: torch.Tensor, h: float = 1e-4):
    """d_t log rho + div b + b . grad log rho at (x, t): central differences in t, autograd in x.

    Zero for the exact velocity; returned per point, in float64.
    """
    x = x.double().detach().requires_grad_(True)
    t = t.double()
    dlog_dt = (oracle.log_prob(x.detach(), t + h) - oracle.log_prob(x.detach(), t - h)) / (2 * h)
    log_rho = oracle.log_prob(x, t)
    (grad_log,) = torch.autograd.grad(log_rho.sum(), x)
    b = oracle(x, t)
    div = sum(torch.autograd.grad(b[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(x.shape[1]))
    return (dlog_dt + div + (b * grad_log).sum(-1)).detach()


def _test_functions(x: torch.Tensor) -> torch.Tensor:
    """phi(x) [N, F]: a constant, the coordinates, their squares and products, sines and cosines."""
    pairs = x[:, :, None] * x[:, None, :]
    i, j = torch.triu_indices(x.shape[1], x.shape[1])
    return torch.cat([torch.ones_like(x[:, :1]), x, pairs[:, i, j], torch.sin(x), torch.cos(x)], 1)


def velocity_moment_zscore(
    oracle: MixtureInterpolant, t: float, n: int, generator: torch.Generator | None = None
) -> float:
    """The largest |z-score| of the Monte-Carlo estimates of E[(dx_t/dt - b(x_t)) phi_j(x_t)], which
    vanish for every test function phi_j iff b(x) = E[dx_t/dt | x_t = x] on their span."""
    x0 = oracle.source.sample(n, generator).double()
    x1 = oracle.target.sample(n, generator).double()
    z = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
    tt = torch.full((n,), float(t), dtype=torch.float64)
    xt, dxt, _ = oracle.interpolant.sample(x0, x1, tt, z)
    with torch.no_grad():
        r = (dxt - oracle(xt, tt))[:, :, None] * _test_functions(xt)[:, None, :]  # [N, D, F]
    return (r.mean(0) / (r.std(0) / n**0.5).clamp_min(1e-300)).abs().max().item()


@torch.no_grad()
def velocity_error(
    model: nn.Module,
    oracle: MixtureInterpolant,
    times: torch.Tensor,
    n: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Relative error E||v(x_t, t) - b(x_t, t)||^2 / E||b(x_t, t)||^2 with x_t ~ rho_t, per time [T]."""
    errors = []
    for t in times.tolist():
        x0, x1 = oracle.source.sample(n, generator), oracle.target.sample(n, generator)
        tt = torch.full((n,), t)
        xt, _, _ = oracle.interpolant.sample(x0, x1, tt, torch.randn(x0.shape, generator=generator))
        b = oracle(xt, tt)
        errors.append((model(xt, tt) - b).square().sum(-1).mean() / b.square().sum(-1).mean())
    return torch.stack(errors)


def flow_log_likelihood(velocity, oracle: MixtureInterpolant, x: torch.Tensor, **kw) -> torch.Tensor:
    """log p(x) [N] of the flow dx/dt = velocity(x, t) with the oracle's t = 1 mixture as prior, by
    integrating the exact divergence (genlab.core.likelihood.log_likelihood)."""
    return log_likelihood(velocity, x, oracle.target.log_prob, **kw)
