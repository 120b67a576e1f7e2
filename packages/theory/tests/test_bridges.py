"""Bridges on constrained domains: the closed forms (h_Omega's gradient, the x-bridge's marginal,
the pinned endpoints, the oracle drift) against finite differences, autograd and simulation."""

import json
import math

import pytest
import torch

from genlab.theory.bridges import (
    Bridge,
    BridgeDrift,
    DiscreteDomain,
    Interval,
    bridge_matching_loss,
    geometric_grid,
    integer_grid,
    one_hot,
    oracle_drift,
    relative_drift_error,
    sample_bridge,
    total_variation,
)

F64 = torch.float64


def _fd_grad(fn, z, v, h=1e-6):
    out = torch.zeros_like(z)
    for d in range(z.shape[1]):
        e = torch.zeros_like(z)
        e[:, d] = h
        out[:, d] = (fn(z + e, v) - fn(z - e, v)) / (2 * h)
    return out


DOMAINS = {
    "interval": (Interval(0.0, 1.0), torch.tensor([[-3.0], [-0.1], [0.0], [0.3], [0.99], [1.2], [6.0]])),
    "half-line": (Interval(0.0, math.inf), torch.tensor([[-2.0], [-0.05], [0.0], [0.2], [5.0]])),
    "box": (Interval(-1.0, 2.0, dim=2), torch.tensor([[-1.5, 0.0], [0.5, 2.1], [1.9, -0.9]])),
    "grid": (integer_grid(4), torch.tensor([[0.3, 1.6], [-1.0, 4.2], [2.5, 2.5], [1.0, 1.0]])),
    "one-hot": (one_hot(5), torch.randn(6, 5, generator=torch.Generator().manual_seed(0))),
}


@pytest.mark.parametrize("name", DOMAINS)
@pytest.mark.parametrize("v", [0.01, 0.3, 4.0])
def test_grad_log_h_matches_finite_differences_and_autograd(name, v):
    domain, z = DOMAINS[name]
    z = z.to(F64)
    vv = torch.full((len(z),), v, dtype=F64)
    grad = domain.grad_log_h(z, vv)
    zg = z.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(domain.log_h(zg, vv).sum(), zg)
    torch.testing.assert_close(grad, auto, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(grad, _fd_grad(domain.log_h, z, vv), rtol=1e-5, atol=1e-5)


def test_interval_h_is_the_probability_of_ending_inside():
    """h(z, v) = P(z + sqrt(v) eps in [a, b]), by Monte Carlo, and log h stays finite far outside."""
    dom, z, v = Interval(0.0, 1.0), torch.tensor([[-0.2], [0.4], [1.5]], dtype=F64), 0.25
    eps = torch.randn(200_000, dtype=F64, generator=torch.Generator().manual_seed(0))
    mc = torch.stack(
        [((zi + v**0.5 * eps >= 0) & (zi + v**0.5 * eps <= 1)).double().mean() for zi in z[:, 0]]
    )
    torch.testing.assert_close(dom.log_h(z, torch.full((3,), v, dtype=F64)).exp(), mc, atol=4e-3, rtol=0)
    far = dom.log_h(torch.tensor([[-40.0], [0.5], [40.0]], dtype=F64), torch.full((3,), 1e-4, dtype=F64))
    assert torch.isfinite(far).all() and far[1] > -1e-12 and far[0] < -1e6


def test_one_hot_gradient_is_softmax_minus_z_over_v():
    dom, z, v = one_hot(7), torch.randn(5, 7, dtype=F64), torch.full((5,), 0.3, dtype=F64)
    torch.testing.assert_close(dom.grad_log_h(z, v), (torch.softmax(z / 0.3, -1) - z) / 0.3)


def test_x_bridge_marginal_matches_simulation_and_ends_at_x():
    """Omega = {x} is the x-bridge: Euler-Maruyama paths at t = 0.5 have the closed-form mean and
    variance, and every path ends exactly at x."""
    x = torch.tensor([[2.0, -1.0]], dtype=F64)
    bridge = Bridge(torch.tensor([0.5, 0.5]), total_var=3.0)
    grid = torch.linspace(1, 0, 401, dtype=F64)
    path = sample_bridge(
        bridge, DiscreteDomain(x), 20_000, grid, generator=torch.Generator().manual_seed(0), return_path=True
    )
    mid = path[200]
    mean, std = bridge.marginal(x, torch.tensor([0.5], dtype=F64))
    torch.testing.assert_close(mid.mean(0), mean[0], atol=0.03, rtol=0)
    torch.testing.assert_close(mid.var(0), std.square().expand(2), atol=0.03, rtol=0)
    torch.testing.assert_close(path[-1], x.expand(20_000, 2), atol=1e-12, rtol=0)
    torch.testing.assert_close(path[0], bridge.start.expand(20_000, 2))


def test_time_runs_from_start_at_one_to_data_at_zero():
    bridge, x = Bridge(torch.zeros(1), 2.0), torch.tensor([[3.0]], dtype=F64)
    for t, want_mean in ((1.0, 0.0), (0.0, 3.0)):
        mean, std = bridge.marginal(x, torch.tensor([t], dtype=F64))
        assert mean.item() == want_mean and std.item() == 0
    assert bridge.var_left(torch.tensor(0.0)) == 0


def test_omega_bridge_lands_in_omega_with_the_conditioned_prior():
    """With no learned drift, the Omega-bridge ends in Omega with pmf proportional to N(x; z0, V)."""
    dom, bridge = integer_grid(3), Bridge(torch.tensor([0.5, 1.0]), total_var=2.0)
    z = sample_bridge(bridge, dom, 25_000, geometric_grid(200), generator=torch.Generator().manual_seed(1))
    assert dom.contains(z, tol=1e-6).all()
    prior = torch.exp(-(dom.points - bridge.start).square().sum(-1) / (2 * 2.0))
    assert total_variation(dom.pmf(z), prior / prior.sum()) < 0.02


def test_interval_bridge_ends_inside_with_the_truncated_normal_mean():
    dom, bridge = Interval(0.0, 1.0), Bridge(torch.tensor([0.2]), total_var=1.0)
    z = sample_bridge(bridge, dom, 20_000, geometric_grid(200), generator=torch.Generator().manual_seed(2))
    assert dom.contains(z).all()
    u = torch.linspace(0, 1, 20_001, dtype=F64)  # N(0.2, 1) truncated to [0, 1], by quadrature
    w = torch.exp(-(u - 0.2).square() / 2)
    assert abs(z.mean().item() - (u * w).sum().item() / w.sum().item()) < 0.01


def test_oracle_drift_transports_to_the_target_pmf():
    """The closed-form minimiser of bridge matching, plugged into the sampler, gives the data's pmf."""
    dom = one_hot(4)
    probs = torch.tensor([0.55, 0.3, 0.1, 0.05], dtype=F64)
    bridge = Bridge(torch.full((4,), 0.25), total_var=1.0)
    drift = oracle_drift(bridge, dom, probs)
    z = sample_bridge(
        bridge, dom, 25_000, geometric_grid(200), drift, generator=torch.Generator().manual_seed(3)
    )
    assert dom.contains(z, tol=1e-6).all()
    assert total_variation(dom.pmf(z), probs) < 0.015


def test_oracle_drift_minimises_the_bridge_matching_loss():
    """Monte Carlo with common random numbers: the oracle beats perturbed drifts."""
    dom, probs = integer_grid(3), torch.softmax(torch.randn(9, generator=torch.Generator().manual_seed(4)), 0)
    bridge = Bridge(torch.tensor([1.0, 1.0]), total_var=4.0)
    oracle = oracle_drift(bridge, dom, probs.double())
    gen = torch.Generator().manual_seed(5)
    x = dom.points[torch.multinomial(probs, 50_000, replacement=True, generator=gen)]
    t, noise = (
        1e-4 ** torch.rand(len(x), generator=gen, dtype=F64),
        torch.randn(x.shape, generator=gen, dtype=F64),
    )

    def loss_of(f):
        class Net(torch.nn.Module):
            def forward(self, z, t):
                return f(z, t) * bridge.var_left(t).sqrt()[:, None]

        return bridge_matching_loss(BridgeDrift(Net(), bridge), x, dom, t=t, noise=noise)[0].item()

    best = loss_of(oracle)
    assert best < loss_of(lambda z, t: oracle(z, t) * 1.2)
    assert best < loss_of(lambda z, t: oracle(z, t) + 0.2)
    assert best < loss_of(lambda z, t: torch.zeros_like(z))


def test_relative_drift_error_is_zero_for_the_exact_drift_and_one_for_none():
    dom, probs = one_hot(3), torch.tensor([0.6, 0.3, 0.1], dtype=F64)
    bridge = Bridge(torch.full((3,), 0.5), total_var=1.0)
    exact = oracle_drift(bridge, dom, probs)
    x = dom.points[
        torch.multinomial(probs, 2000, replacement=True, generator=torch.Generator().manual_seed(6))
    ]
    assert relative_drift_error(exact, exact, bridge, x) == 0.0
    assert math.isclose(relative_drift_error(lambda z, t: torch.zeros_like(z), exact, bridge, x), 1.0)


def test_matching_target_forms_agree():
    """For a discrete Omega the cancellation-free (x - E_h[x|z]) / v equals (x - z)/v - grad log h."""
    dom, bridge = integer_grid(4), Bridge(torch.tensor([1.5, 1.5]), total_var=4.0)
    x = dom.points[[0, 5, 15]]
    t = torch.tensor([0.9, 0.3, 0.05], dtype=F64)
    z = bridge.sample_marginal(x, t)
    generic = (x - z) / bridge.var_left(t)[:, None] - dom.grad_log_h(z, bridge.var_left(t))
    torch.testing.assert_close(bridge.matching_target(x, z, t, dom), generic)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="low < high"):
        Interval(1.0, 0.0)
    with pytest.raises(ValueError, match="k >= 2"):
        one_hot(1)
    with pytest.raises(ValueError, match="positive"):
        integer_grid(2).grad_log_h(torch.zeros(1, 2), torch.zeros(1))
    with pytest.raises(ValueError, match=r"z \[B, 2\]"):
        integer_grid(2).log_h(torch.zeros(1, 3), torch.ones(1))
    with pytest.raises(ValueError, match="decreasing"):
        sample_bridge(Bridge(torch.zeros(1), 1.0), Interval(), 2, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="pmf"):
        oracle_drift(Bridge(torch.zeros(2), 1.0), integer_grid(2), torch.ones(3))


def test_smoke_run_writes_the_run_directory(tmp_path):
    from genlab.core.run import train
    from genlab.theory.recipes.bridges import RECIPE

    run = train(RECIPE, RECIPE.make_config("smoke"), "smoke", out=tmp_path)
    numbers = json.loads((run / "eval.json").read_text())
    claims = json.loads((run / "claims.json").read_text())
    assert (run / "samples.png").stat().st_size > 0
    for domain in ("grid", "onehot", "interval"):
        assert numbers[f"{domain}/bridge_in_domain"] == 1.0
        assert 0 <= numbers[f"{domain}/diffusion_in_domain"] <= 1
    assert numbers["claims"] == len(claims["claims"]) >= 3
