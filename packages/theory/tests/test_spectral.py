"""genlab.theory.spectral and the theory-spectral experiment: the RAPSD normalisation (white noise,
Parseval, a pure tone), the power-law fit and crossover on exact power laws, the Gaussian denoiser
against Tweedie's formula and the orthogonality of conditional means, the sampling-path recorder,
the settle measure, and the smoke preset."""

import json

import pytest
import torch

from genlab.core.diffusion import get_schedule
from genlab.core.diffusion.parameterization import Denoiser
from genlab.core.diffusion.samplers import sample_ddim
from genlab.core.grids import logsnr_grid
from genlab.core.run import train
from genlab.theory.recipes.spectral import RECIPE
from genlab.theory.spectral import (
    GaussianDenoiser,
    crossover,
    power_law_fit,
    rapsd,
    settle_steps,
    shell_counts,
    stationary_signals,
    x0_path,
)


@pytest.mark.parametrize("ndim,n", [(1, 256), (2, 32)])
def test_white_noise_has_flat_rapsd_at_its_variance(ndim, n):
    g = torch.Generator().manual_seed(0)
    sigma = 0.7
    x = sigma * torch.randn(4000 if ndim == 1 else 400, *[n] * ndim, generator=g, dtype=torch.float64)
    f, power = rapsd(x, ndim)
    ratio = power[1 : n // 2 + 1] / sigma**2
    assert ratio.mean().item() == pytest.approx(1.0, abs=0.01)
    assert (ratio - 1).abs().max() < 0.1
    assert f[1] == 1 and len(f) == len(shell_counts(n, ndim))


@pytest.mark.parametrize("ndim", [1, 2])
def test_parseval(ndim):
    x = torch.randn(*[16] * ndim, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.3
    _, power = rapsd(x, ndim)
    assert (shell_counts(16, ndim) * power).sum().item() == pytest.approx(x.square().sum().item(), rel=1e-12)


def test_a_pure_tone_lands_in_its_shell():
    n, k = 64, 5
    grid = torch.arange(n, dtype=torch.float64)
    tone = torch.cos(2 * torch.pi * k * grid / n)[None, :].expand(n, n)  # varies along the last axis only
    _, power = rapsd(tone)
    assert power.argmax().item() == k
    assert power[k] * shell_counts(n)[k] == pytest.approx(tone.square().sum().item())


def test_rapsd_rejects_non_square_signals():
    with pytest.raises(ValueError, match="one size"):
        rapsd(torch.zeros(8, 16))


def test_power_law_fit_and_crossover_on_an_exact_power_law():
    f = torch.arange(0, 129, dtype=torch.float64)
    power = 50 * f.clamp_min(1) ** -2.5
    alpha, log_a, r2 = power_law_fit(f, power, 1, 128)
    assert alpha == pytest.approx(2.5) and log_a == pytest.approx(torch.log(torch.tensor(50.0)).item())
    assert r2 == pytest.approx(1.0)
    for sigma in (0.1, 0.3):
        assert crossover(f, power, sigma**2, 128) == pytest.approx((50 / sigma**2) ** (1 / 2.5), rel=1e-9)
    assert crossover(f, power, 1e-9, 128) == 128  # the signal stays above the noise up to fmax
    assert crossover(f, power, 100.0, 128) != crossover(f, power, 100.0, 128)  # nan: noise above everything
    with pytest.raises(ValueError, match="fewer than 3"):
        power_law_fit(f, power, 1, 2)


def _denoiser(seed=2):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(6, 6, generator=g, dtype=torch.float64)
    data = torch.randn(3000, 6, generator=g, dtype=torch.float64) @ mix + torch.arange(
        6.0, dtype=torch.float64
    )
    return GaussianDenoiser(data.view(3000, 2, 3), get_schedule("cosine")), data


def test_gaussian_denoiser_is_tweedie():
    # E[x0 | x_t] = (x_t + sigma^2 grad log p_t(x_t)) / alpha with p_t = N(alpha mu, alpha^2 Sigma + sigma^2 I)
    den, _ = _denoiser()
    t = torch.full((5,), 0.45, dtype=torch.float64)
    a, s = (c[0] for c in den.schedule.alpha_sigma(t))
    cov = den.vecs @ torch.diag(den.lam) @ den.vecs.T
    p_t = torch.distributions.MultivariateNormal(
        a * den.mean, a**2 * cov + s**2 * torch.eye(6, dtype=torch.float64)
    )
    x = (
        a * den.mean + torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ).requires_grad_()
    (score,) = torch.autograd.grad(p_t.log_prob(x).sum(), x)
    tweedie = (x + s**2 * score) / a
    assert torch.allclose(den(x.detach().view(5, 2, 3), t).flatten(1), tweedie, atol=1e-10)


def test_gaussian_denoiser_residual_is_orthogonal_to_x_t_by_monte_carlo():
    den, data = _denoiser()
    g = torch.Generator().manual_seed(4)
    x0 = den.sample(40_000, g)
    assert torch.allclose(x0.flatten(1).mean(0), data.mean(0), atol=0.1)
    t = torch.full((40_000,), 0.5, dtype=torch.float64)
    xt = den.schedule.add_noise(x0, torch.randn(x0.shape, generator=g, dtype=torch.float64), t)
    resid = (x0 - den(xt, t)).flatten(1)
    feats = torch.cat([torch.ones(40_000, 1, dtype=torch.float64), xt.flatten(1)], 1)
    products = resid[:, :, None] * feats[:, None, :]
    z = products.mean(0) / (products.std(0) / 40_000**0.5)
    assert z.abs().max() < 4.5
    wrong = (x0 - 0.9 * den(xt, t)).flatten(1)[:, :, None] * feats[:, None, :]
    assert (wrong.mean(0) / (wrong.std(0) / 40_000**0.5)).abs().max() > 10


def test_x0_path_ends_at_the_ddim_sample():
    den, _ = _denoiser()
    model = Denoiser(den, den.schedule, "x0")
    x = torch.randn(8, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    grid = logsnr_grid(12, (8,), schedule=den.schedule, dtype=torch.float64)
    path = x0_path(model, x, grid)
    assert path.shape == (12, 8, 2, 3)
    assert torch.allclose(path[-1], sample_ddim(model, x, grid), atol=1e-10)


def test_settle_steps():
    curves = torch.tensor([[0.0, 0.0], [0.95, 0.5], [1.2, 0.99], [1.0, 1.0]])
    assert settle_steps(curves, 0.1).tolist() == [3, 2]
    assert settle_steps(curves, 0.25).tolist() == [1, 2]


def test_stationary_signals_have_the_requested_spectrum():
    spectrum = torch.arange(65, dtype=torch.float64).clamp_min(1) ** -1.0
    x = stationary_signals(spectrum, 4000, torch.Generator().manual_seed(6))
    assert x.shape == (4000, 128)
    _, power = rapsd(x, 1)
    assert ((power / spectrum) - 1).abs().max() < 0.15


def test_smoke_run(tmp_path):
    run_dir = train(RECIPE, RECIPE.make_config("smoke"), "smoke", out=tmp_path)
    results = json.loads((run_dir / "eval.json").read_text())
    record = json.loads((run_dir / "claims.json").read_text())
    assert len(record["claims"]) == 6 == results["claims"]
    assert results["parseval_rel_err"] < 1e-10
    assert results["white_noise_mean_ratio"] == pytest.approx(1.0, abs=0.03)
    assert {
        "camera_alpha",
        "camera_fstar_slope",
        "patches_settle_spearman",
        "trained_settle_spearman",
    } <= set(results)
    for name in ("samples.png", "sampling_path.png"):
        assert (run_dir / name).stat().st_size > 1000
