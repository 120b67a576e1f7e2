"""genlab.theory.transport and the interpolant and rectified-flow experiments: the closed-form mixture
velocity and density are checked (continuity equation, Monte Carlo, quadrature) before they serve as
oracles, each measurement is checked on cases with a known answer, and both recipes run their smoke
presets."""

import itertools
import json
import math

import pytest
import torch

from genlab.core.data.mixtures import GaussianMixture
from genlab.core.flow import Interpolant, MixtureInterpolant, simulate, straightness
from genlab.core.run import train
from genlab.theory.recipes.interpolants import RECIPE as INTERPOLANTS
from genlab.theory.recipes.rectified_flow import RECIPE as RECTIFIED
from genlab.theory.transport import (
    CONVEX_COSTS,
    continuity_residual,
    coupling_costs,
    flow_log_likelihood,
    ot_cost,
    straightness_bound,
    velocity_error,
    velocity_moment_zscore,
)

DATA = GaussianMixture(
    torch.tensor([[-2.0, 0.0], [2.0, 1.0]]), torch.tensor([0.5, 0.3]), torch.tensor([0.3, 0.7])
)
BASE = GaussianMixture(torch.tensor([[0.0, 2.0], [0.0, -2.0], [3.0, 0.0]]), 0.6)
NOISE = GaussianMixture(torch.zeros(1, 2), 1.0)
INTERPOLANT_CASES = [Interpolant("linear"), Interpolant("trig"), Interpolant("linear", a=0.5)]


class Scaled(MixtureInterpolant):
    """A wrong velocity (the exact one times 1.1) with the right density: the checks must catch it."""

    def forward(self, x, t):
        return 1.1 * super().forward(x, t)


@pytest.mark.parametrize("interpolant", INTERPOLANT_CASES)
def test_exact_velocity_solves_the_continuity_equation_and_a_wrong_one_does_not(interpolant):
    g = torch.Generator().manual_seed(0)
    x = 2 * torch.randn(64, 2, generator=g, dtype=torch.float64)
    t = 0.05 + 0.9 * torch.rand(64, generator=g, dtype=torch.float64)
    exact = continuity_residual(MixtureInterpolant(DATA, BASE, interpolant), x, t)
    wrong = continuity_residual(Scaled(DATA, BASE, interpolant), x, t)
    assert exact.abs().max() < 1e-4
    assert wrong.abs().max() > 1e-2


@pytest.mark.parametrize("interpolant", INTERPOLANT_CASES)
def test_exact_velocity_is_the_conditional_mean_by_monte_carlo(interpolant):
    g = torch.Generator().manual_seed(1)
    assert velocity_moment_zscore(MixtureInterpolant(DATA, BASE, interpolant), 0.4, 20_000, g) < 4.5
    assert velocity_moment_zscore(Scaled(DATA, BASE, interpolant), 0.4, 20_000, g) > 10


@pytest.mark.parametrize("interpolant", INTERPOLANT_CASES)
def test_mixture_density_integrates_to_one_and_has_the_samples_mean(interpolant):
    oracle = MixtureInterpolant(DATA, BASE, interpolant)
    axis = torch.linspace(-9, 9, 361, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    t = torch.full((len(grid),), 0.3, dtype=torch.float64)
    density = oracle.log_prob(grid, t).exp() * (axis[1] - axis[0]) ** 2
    assert density.sum().item() == pytest.approx(1.0, abs=1e-6)
    g = torch.Generator().manual_seed(2)
    n = 40_000
    x0, x1 = DATA.sample(n, g).double(), BASE.sample(n, g).double()
    xt, _, _ = interpolant.sample(x0, x1, t[:n], torch.randn(n, 2, generator=g, dtype=torch.float64))
    assert torch.allclose((density[:, None] * grid).sum(0), xt.mean(0), atol=0.04)


def test_log_density_gradient_matches_finite_differences():
    oracle = MixtureInterpolant(DATA, BASE, Interpolant("trig"))
    x = torch.randn(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).requires_grad_(
        True
    )
    t = torch.full((16,), 0.6, dtype=torch.float64)
    (grad,) = torch.autograd.grad(oracle.log_prob(x, t).sum(), x)
    h = 1e-6
    for i in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[i] = h
        fd = (oracle.log_prob(x.detach() + e, t) - oracle.log_prob(x.detach() - e, t)) / (2 * h)
        assert torch.allclose(grad[:, i], fd, atol=1e-6)


@pytest.mark.parametrize("kind", ["linear", "trig"])
def test_likelihood_of_the_exact_velocity_is_the_true_log_density(kind):
    oracle = MixtureInterpolant(DATA, BASE, Interpolant(kind))
    x = DATA.sample(40, torch.Generator().manual_seed(4)).double()
    ll = flow_log_likelihood(oracle, oracle, x, atol=1e-7, rtol=1e-7)
    assert torch.allclose(ll, DATA.log_prob(x), atol=2e-3)
    wrong = flow_log_likelihood(Scaled(DATA, BASE, Interpolant(kind)), oracle, x)
    assert (DATA.log_prob(x) - wrong).mean() > 0.05


def test_deterministic_interpolants_share_one_exact_coupling():
    # alpha x0 + beta x1 = alpha (x0 + (beta / alpha) x1): linear and trig are re-timed rescalings of one path
    x1 = BASE.sample(200, torch.Generator().manual_seed(8)).double()
    ends = [simulate(MixtureInterpolant(DATA, BASE, Interpolant(k)), x1, 200)[-1] for k in ("linear", "trig")]
    assert torch.allclose(ends[0], ends[1], atol=1e-4)
    noisy = simulate(MixtureInterpolant(DATA, BASE, Interpolant("linear", a=4.0)), x1, 200)[-1]
    assert (noisy - ends[0]).norm(dim=-1).max() > 0.1


def test_velocity_error_is_zero_for_the_oracle_and_one_for_zero():
    oracle = MixtureInterpolant(DATA, BASE, Interpolant("linear"))
    times = torch.tensor([0.2, 0.5, 0.8])
    assert velocity_error(oracle, oracle, times, 200).abs().max() < 1e-10
    zero = velocity_error(lambda x, t: torch.zeros_like(x), oracle, times, 200)
    assert torch.allclose(zero, torch.ones(3))


def test_convex_costs_are_even_and_convex():
    g = torch.Generator().manual_seed(5)
    a, b = (
        3 * torch.randn(500, 2, generator=g, dtype=torch.float64),
        3 * torch.randn(500, 2, generator=g, dtype=torch.float64),
    )
    for name, c in CONVEX_COSTS.items():
        assert torch.allclose(c(a), c(-a)), name
        assert (c((a + b) / 2) <= (c(a) + c(b)) / 2 + 1e-12).all(), name


def test_coupling_costs_values_and_errors():
    x = torch.zeros(2, 2)
    y = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    costs = coupling_costs(x, y)
    assert costs["quadratic"] == pytest.approx(12.5)
    assert costs["l1"] == pytest.approx(3.5)
    assert costs["euclidean"] == pytest.approx(2.5)
    assert costs["cubic"] == pytest.approx(62.5)
    assert costs["exp"] == pytest.approx((math.exp(2.5) + 1) / 2)
    with pytest.raises(ValueError, match="one shape"):
        coupling_costs(x, y[:1])
    with pytest.raises(ValueError, match="convex cost"):
        coupling_costs(x, y, ("quadratik",))


def test_ot_cost_is_the_brute_force_optimum():
    g = torch.Generator().manual_seed(6)
    x, y = (
        torch.randn(6, 2, generator=g, dtype=torch.float64),
        torch.randn(6, 2, generator=g, dtype=torch.float64),
    )
    brute = min((x - y[list(p)]).square().sum(1).mean().item() for p in itertools.permutations(range(6)))
    assert ot_cost(x, y) == pytest.approx(brute, rel=1e-10)
    assert ot_cost(x, x[torch.randperm(6, generator=g)]) == pytest.approx(0.0, abs=1e-12)


def test_straightness_bound():
    assert straightness_bound([3.0, 0.5, 0.7], 9.0) == (0.5, 3.0)
    with pytest.raises(ValueError, match="at least one"):
        straightness_bound([], 1.0)


def test_rectified_flow_theorems_hold_for_the_exact_velocity():
    # 1-RF with the exact marginal velocity of the linear path from N(0, I) to DATA: Theorem 3.5 for every
    # convex cost, and S(Z) <= E|X1 - X0|^2 - E|Z1 - Z0|^2 with the independent cost in closed form
    field = MixtureInterpolant(DATA, NOISE, Interpolant("linear"))
    g = torch.Generator().manual_seed(7)
    noise = torch.randn(2000, 2, generator=g, dtype=torch.float64)
    path = simulate(field, noise, steps=100)
    ode = coupling_costs(path[-1], noise)
    independent = coupling_costs(DATA.sample(2000, g).double(), noise)
    assert all(ode[c] < independent[c] for c in CONVEX_COSTS)
    second_moment = (DATA.weights * (DATA.means.square().sum(1) + 2 * DATA.stds.square())).sum().item()
    exact_independent = second_moment + 2  # E|x0|^2 + E|x1|^2 for independent, zero-mean noise
    assert independent["quadratic"] == pytest.approx(exact_independent, rel=0.05)
    assert 0.1 < straightness(path) <= exact_independent - ode["quadratic"]


def _check_run(run_dir, claims: int, figures: tuple[str, ...]) -> dict:
    results = json.loads((run_dir / "eval.json").read_text())
    record = json.loads((run_dir / "claims.json").read_text())
    assert record["title"] and record["setup"]
    assert len(record["claims"]) == claims == results["claims"]
    assert all(set(c) == {"statement", "supported", "evidence"} for c in record["claims"])
    for name in figures:
        assert (run_dir / name).stat().st_size > 1000
    return results


def test_interpolants_smoke_run(tmp_path):
    run_dir = train(INTERPOLANTS, INTERPOLANTS.make_config("smoke"), "smoke", out=tmp_path)
    results = _check_run(run_dir, 6, ("samples.png",))
    for kind in ("linear", "trig"):
        assert results[f"{kind}_oracle_continuity_residual"] < 1e-3
        assert abs(results[f"{kind}_oracle_nll_gap"]) < 0.01
        assert results[f"{kind}_exact_cost"] >= results[f"{kind}_exact_ot_cost"] - 1e-9
        assert {f"{kind}_8_velocity_error", f"{kind}_32_nll_gap"} <= set(results)


def test_rectified_flow_smoke_run(tmp_path):
    run_dir = train(RECTIFIED, RECTIFIED.make_config("smoke"), "smoke", out=tmp_path)
    results = _check_run(run_dir, 8, ("samples.png", "theorems.png"))
    for k in (1, 2, 3):
        assert results[f"{k}rf_ot_gap"] >= -1e-9  # no coupling beats the exact assignment of its own points
        assert set(f"{k}rf_cost_{c}" for c in CONVEX_COSTS) <= set(results)
    assert results["0rf_cost_quadratic"] > results["1rf_cost_quadratic"]
