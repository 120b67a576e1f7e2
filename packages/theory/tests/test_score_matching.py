"""Oracles and pieces of the score-matching / BSM experiment (genlab.theory.score_matching)."""

import json
import math
from pathlib import Path

import pytest
import torch

from genlab.core.diffusion.exact import MixtureDenoiser
from genlab.core.trainer import TrainConfig
from genlab.theory.score_matching import (
    RadialScore,
    bsm_target,
    dsm_target,
    integrated,
    loglog_slope,
    ou_paths,
    ou_schedule,
    rb_target,
    score_errors,
    subspace_mixture,
    target_variances,
    train_score,
    true_score,
)

H = 2.0


def test_ou_schedule_is_the_ou_process():
    tau = torch.tensor([0.01, 0.3, 1.0, 2.0], dtype=torch.float64)
    a, s = ou_schedule(H).alpha_sigma(tau / H)
    torch.testing.assert_close(a, torch.exp(-tau))
    torch.testing.assert_close(s**2, 1 - torch.exp(-2 * tau))
    with pytest.raises(ValueError, match="horizon"):
        ou_schedule(0.0)


def test_subspace_mixture_lives_in_its_subspace():
    m2, _ = subspace_mixture(2)
    for d in (5, 40):
        m, u = subspace_mixture(d, k=2, seed=3)
        torch.testing.assert_close(u.T @ u, torch.eye(2, dtype=torch.float64))
        torch.testing.assert_close(m.means @ u @ u.T, m.means)  # means in span(U)
        torch.testing.assert_close(torch.cdist(m.means, m.means), torch.cdist(m2.means, m2.means))
    with pytest.raises(ValueError, match="subspace"):
        subspace_mixture(3, k=4)


def test_true_score_is_the_gradient_of_the_noised_log_density():
    sch = ou_schedule(H)
    mixture, _ = subspace_mixture(6, seed=1)
    x = torch.randn(16, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = torch.linspace(0.05, 1.0, 16, dtype=torch.float64)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(MixtureDenoiser(mixture, sch).log_prob(xg, t).sum(), xg)
    torch.testing.assert_close(true_score(mixture, sch, x, t), grad)


def test_ou_paths_have_the_ou_marginals_and_markov_covariance():
    sch = ou_schedule(H)
    grid = torch.tensor([0.1, 0.4, 0.9])
    x0 = torch.full((200_000, 1), 1.5)
    paths = ou_paths(x0, grid, sch, torch.Generator().manual_seed(0))
    a, s = sch.alpha_sigma(grid.double())
    torch.testing.assert_close(paths.mean(0)[:, 0].double(), a * 1.5, atol=0.01, rtol=0)
    torch.testing.assert_close(paths.var(0)[:, 0].double(), s**2, atol=0.01, rtol=0)
    # Cov(x_s, x_t | x_0) = (alpha_t / alpha_s) sigma_s^2 for the OU process
    cov = ((paths[:, 0] - paths[:, 0].mean()) * (paths[:, 2] - paths[:, 2].mean())).mean().item()
    assert abs(cov - (a[2] / a[0] * s[0] ** 2).item()) < 0.01
    with pytest.raises(ValueError, match="increasing"):
        ou_paths(x0[:2], torch.tensor([0.5, 0.2]), sch)


def test_dsm_target_is_minus_eps_over_sigma():
    sch = ou_schedule(H)
    gen = torch.Generator().manual_seed(0)
    x0, eps, t = (
        torch.randn(8, 3, generator=gen),
        torch.randn(8, 3, generator=gen),
        torch.rand(8, generator=gen),
    )
    a, s = sch.alpha_sigma(t)
    x_t = a[:, None] * x0 + s[:, None] * eps
    torch.testing.assert_close(dsm_target(x0, x_t, t, sch), -eps / s[:, None])


def _labels(d=2, n=400_000):
    """Exact-score DSM, BSM and RB labels at one (s, t) pair of the OU process, with x_t and s*_t."""
    sch = ou_schedule(H)
    mixture, _ = subspace_mixture(d, radius=2.0, std=0.5, seed=2)
    gen = torch.Generator().manual_seed(1)
    grid = torch.tensor([0.3, 0.45], dtype=torch.float64)
    x0 = mixture.sample(n, gen).double()
    paths = ou_paths(x0, grid, sch, gen)
    s, t = grid[0].expand(n), grid[1].expand(n)

    def score(x, tau):
        return true_score(mixture, sch, x, tau)

    x_s, x_t = paths[:, 0], paths[:, 1]
    labels = {
        "dsm": dsm_target(x0, x_t, t, sch),
        "bsm": bsm_target(score, x_s, s, t, sch),
        "rb": rb_target(score, x_s, x_t, s, t, sch),
    }
    return labels, x_t, score(x_t, t), sch, t


def test_bootstrap_identity_holds_by_monte_carlo():
    """grad log p_t(x_t) = e^(t-s) E[grad log p_s(x_s) | x_t]: each label minus s*_t(x_t) is orthogonal to
    functions of x_t (checked for 1, x_t, s*_t, tanh x_t) within 4 standard errors."""
    labels, x_t, star, sch, t = _labels()
    a = sch.alpha_sigma(t[:1])[0] / sch.alpha_sigma(t[:1] * 0.3 / 0.45)[0]
    assert abs(1 / a.item() - math.exp(0.15 * H)) < 1e-6  # the gain is e^(t - s) in OU time
    tests = (torch.ones_like(x_t), x_t, star, torch.tanh(3 * x_t))
    for name, y in labels.items():
        r = y - star
        for g in tests:
            prod = (r * g).sum(-1)
            assert prod.mean().abs() < 4 * prod.std() / math.sqrt(len(prod)), name


def test_rb_label_is_less_noisy_than_dsm_and_dsm_noise_matches_its_formula():
    labels, x_t, star, sch, t = _labels(d=2, n=100_000)
    noise = {k: (v - star).square().sum(-1).mean().item() for k, v in labels.items()}
    assert noise["rb"] < noise["dsm"]
    # E||-z/sigma^2 - s*||^2 = d / sigma^2 - E||s*||^2 (Tweedie)
    sigma2 = sch.alpha_sigma(t[:1])[1].item() ** 2
    expected = 2 / sigma2 - star.square().sum(-1).mean().item()
    assert abs(noise["dsm"] - expected) < 0.03 * expected


def test_target_variances_rb_wins_at_high_noise():
    mixture, _ = subspace_mixture(8, seed=0)
    grid = torch.linspace(0.05, 2.0, 6) / H
    dsm, bsm, rb = target_variances(mixture, ou_schedule(H), grid, 4000, torch.Generator().manual_seed(0))
    assert dsm.shape == bsm.shape == rb.shape == (5,)
    assert (rb[-3:] < dsm[-3:]).all()


def test_radial_score_structure_and_size():
    d = 50
    _, u = subspace_mixture(d, seed=0)
    model = RadialScore(d, hidden=16, depth=2, basis=u)
    x, t = torch.randn(5, d), torch.rand(5)
    out = model(x, t)
    perp = torch.eye(d) - u.float() @ u.float().T
    torch.testing.assert_close(out @ perp, model.radial(t) * (x @ perp), atol=1e-5, rtol=1e-5)
    size = sum(p.numel() for p in model.parameters())
    _, u_big = subspace_mixture(500, seed=0)
    assert sum(p.numel() for p in RadialScore(500, 16, 2, basis=u_big).parameters()) == size
    assert sum(p.numel() for p in RadialScore(500, 16, 2).parameters()) > 10 * size
    with pytest.raises(ValueError, match="basis"):
        RadialScore(10, basis=u)


def _small_problem(d=4, n=256):
    sch = ou_schedule(H)
    mixture, u = subspace_mixture(d, seed=0)
    gen = torch.Generator().manual_seed(0)
    grid = torch.linspace(0.1, 2.0, 5) / H
    x0 = mixture.sample(n, gen)
    return sch, mixture, u, grid, x0, ou_paths(x0, grid, sch, gen)


@pytest.mark.parametrize("method", ["dsm", "bsm", "bsm_rb"])
def test_train_score_learns(method):
    torch.manual_seed(0)
    sch, mixture, u, grid, x0, paths = _small_problem()
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, warmup=10, grad_clip=0, ckpt_every=0)
    model = RadialScore(4, 32, 2, basis=u)
    gen = torch.Generator().manual_seed(5)
    before = score_errors(model, mixture, sch, grid, 500, gen)[0]
    ema = train_score(model, x0, paths, grid, sch, cfg, method, t0=0.5, bsm_warmup=0.3)
    after = score_errors(ema, mixture, sch, grid, 500, torch.Generator().manual_seed(5))[0]
    assert integrated(after, grid * H) < 0.3 * integrated(before, grid * H)


def test_train_score_rejects_bad_input():
    sch, _, u, grid, x0, paths = _small_problem()
    cfg = TrainConfig(steps=1, batch_size=8)
    with pytest.raises(ValueError, match="method"):
        train_score(RadialScore(4, basis=u), x0, paths, grid, sch, cfg, "tsm")
    with pytest.raises(ValueError, match="do not match"):
        train_score(RadialScore(4, basis=u), x0[:5], paths, grid, sch, cfg)


def test_integrated_and_slope():
    tau = torch.tensor([0.0, 1.0, 3.0])
    e = torch.tensor([100.0, 2.0, 5.0])
    assert integrated(e, tau) == 2.0 * 1 + 5.0 * 2  # the first time carries no gamma
    assert integrated(e, tau, tau > 2) == 10.0
    n = [10, 100, 1000]
    assert loglog_slope(n, [3 * v**-0.8 for v in n]) == pytest.approx(-0.8)
    with pytest.raises(ValueError):
        loglog_slope([1], [1])


def test_recipe_smoke(tmp_path):
    from genlab.core.run import train
    from genlab.theory.recipes.bsm import RECIPE

    run = train(RECIPE, RECIPE.make_config("smoke"), "smoke", out=tmp_path)
    results = json.loads((run / "eval.json").read_text())
    claims = json.loads((run / "claims.json").read_text())
    assert {"dsm_d2_n64_eps2", "bsm_d8_n64_eps2_high", "slope_n_d8", "mlp_slope_d"} <= results.keys()
    assert all(math.isfinite(v) for v in results.values())
    assert len(claims["claims"]) == results["claims"] == 7
    assert Path(run / "samples.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="n_grid"):
        RECIPE.build(RECIPE.make_config("smoke", {"n_grid": "a,b"}))
