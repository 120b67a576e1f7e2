"""Ambient diffusion: the loss reduces to EDM's on clean data, its minimiser is the clean posterior
mean (Monte Carlo against the exact mixture denoiser), and the measurements are exact on oracles."""

import json
import math

import pytest
import torch

from genlab.core.data import GaussianMixture
from genlab.core.diffusion import EDM, Affine, Denoiser, MixtureDenoiser, diffusion_loss
from genlab.theory.ambient import (
    ambient_dataset,
    ambient_loss,
    clean_equivalent,
    denoiser_error,
    edm_mlp,
    excess_risk,
    lognormal_sigmas,
    noisy_sample_value,
    predict_y,
    t_of,
)

F64 = torch.float64
SCH = EDM()


def _mixture():
    return GaussianMixture(
        torch.tensor([[-2.0, 0.0], [1.5, 1.0], [0.0, -2.0]]), torch.tensor([0.2, 0.5, 0.3])
    )


def test_predict_y_interpolates_between_h_and_x_t():
    h, x = torch.randn(4, 3, dtype=F64), torch.randn(4, 3, dtype=F64)
    s_t = torch.tensor([1.0, 2.0, 0.5, 0.5], dtype=F64)
    s_n = torch.tensor([0.0, 1.0, 0.5, 0.1], dtype=F64)
    out = predict_y(h, x, s_t, s_n)
    torch.testing.assert_close(out[0], h[0])
    torch.testing.assert_close(out[1], 0.75 * h[1] + 0.25 * x[1])
    torch.testing.assert_close(out[2], x[2])  # at sigma_t = sigma_n the sample itself is the prediction
    torch.testing.assert_close(out[3], 0.96 * h[3] + 0.04 * x[3])


def test_clean_samples_give_edm_x0_loss_exactly():
    """sigma_n = 0: the ambient loss is core's x0-prediction denoising loss with EDM's weight."""
    torch.manual_seed(0)
    model = edm_mlp(3, 32, 2, sigma_data=0.7).double()
    x0, eps = torch.randn(64, 3, dtype=F64), torch.randn(64, 3, dtype=F64)
    t = torch.rand(64, dtype=F64)
    ours, _ = ambient_loss(
        model, x0, torch.zeros(64), schedule=model.schedule, sigma_data=0.7, t=t, noise=eps
    )
    core, _ = diffusion_loss(
        Denoiser(model, model.schedule, "x0"),
        x0,
        t=t,
        noise=eps,
        weighting="edm",
        weighting_options={"sigma_data": 0.7},
    )
    torch.testing.assert_close(ours, core, rtol=1e-12, atol=0)


def test_noisy_sample_below_its_level_contributes_nothing():
    torch.manual_seed(1)
    model = edm_mlp(2, 16, 2, sigma_data=1.0).double()
    y = torch.randn(8, 2, dtype=F64)
    t = torch.full((8,), 0.05, dtype=F64)  # sigma_t ~ 1e-5, far below sigma_n = 1: clamped up to sigma_n
    loss, _ = ambient_loss(model, y, torch.ones(8), schedule=model.schedule, t=t)
    assert loss.item() == 0.0


def test_ambient_noising_has_the_clean_marginal():
    """x_t = y + sqrt(sigma_t^2 - sigma_n^2) eps = x0 + sigma_t eps' in law: Var(x_t - x0) = sigma_t^2."""
    gen = torch.Generator().manual_seed(2)
    x0 = torch.zeros(200_000, 1, dtype=F64)
    y, levels = ambient_dataset(x0, 0, len(x0), 0.6, gen)
    captured = {}

    def spy(x_t, t):
        captured["x_t"], captured["t"] = x_t, t
        return torch.zeros_like(x_t)

    t = torch.full((len(x0),), float(t_of(SCH, torch.tensor(1.5, dtype=F64))), dtype=F64)
    ambient_loss(spy, y, levels, schedule=SCH, t=t, generator=gen)
    assert abs(captured["x_t"].var().item() - 1.5**2) < 0.02


def _expected_losses(models, ambient: bool, n=400_000, sigma_n=0.5, sigma_t=0.9):
    """Monte-Carlo ambient (or naive, noisy-as-clean) losses of several predictors on the same draws."""
    gen = torch.Generator().manual_seed(3)
    x0 = _mixture().sample(n, gen).double()
    y = x0 + sigma_n * torch.randn(x0.shape, generator=gen, dtype=F64)
    t = torch.full((n,), float(t_of(SCH, torch.tensor(sigma_t, dtype=F64))), dtype=F64)
    eps = torch.randn(x0.shape, generator=gen, dtype=F64)
    levels = torch.full((n,), sigma_n if ambient else 0.0, dtype=F64)
    if not ambient:  # the naive loss noises y as if it were clean, to sigma_t
        eps = eps * math.sqrt(sigma_t**2 - sigma_n**2) / sigma_t
    return [ambient_loss(m, y, levels, schedule=SCH, t=t, noise=eps)[0].item() for m in models]


def test_ambient_loss_is_minimised_by_the_clean_posterior_mean():
    """E[x0 | x_t] (exact mixture denoiser) beats E[y | x_t], a shifted and a shrunk copy of itself."""
    sigma_n = 0.5
    mix = _mixture()
    clean = MixtureDenoiser(mix, SCH)
    noisy_mix = GaussianMixture(mix.means, (mix.stds.square() + sigma_n**2).sqrt(), mix.weights)
    # x_t = y + sqrt(sigma_t^2 - sigma_n^2) eps: the noisy mixture on a VE path with that sigma
    path = Affine(
        lambda t: torch.ones_like(t), lambda t: (SCH.alpha_sigma(t)[1].square() - sigma_n**2).sqrt()
    )
    noisy = MixtureDenoiser(noisy_mix, path)
    perturbed = [noisy, lambda x, t: clean(x, t) + 0.1, lambda x, t: 0.9 * clean(x, t)]
    best, *others = _expected_losses([clean, *perturbed], ambient=True)
    assert all(best < o for o in others), (best, others)
    # the naive loss, treating noisy samples as clean, prefers E[y | x_t]: that is what ambient fixes
    naive_clean, naive_noisy = _expected_losses([clean, noisy], ambient=False)
    assert naive_noisy < naive_clean


def test_ambient_dataset_keeps_clean_ones_and_noises_the_rest_once():
    x = torch.randn(1000, 4)
    y, levels = ambient_dataset(x, 100, 900, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(y[:100], x[:100]) and (levels[:100] == 0).all()
    assert levels[100:].eq(0.3).all() and len(y) == 1000
    assert abs((y[100:] - x[100:]).std().item() - 0.3) < 0.01
    for bad in ((600, 600, 0.3), (10, 10, 0.0), (0, 0, 0.1)):
        with pytest.raises(ValueError):
            ambient_dataset(x, *bad)


def test_excess_risk_is_zero_for_the_oracle_and_positive_otherwise():
    mix = _mixture()
    oracle, sig = MixtureDenoiser(mix, SCH), lognormal_sigmas(8)
    x0 = mix.sample(2000, torch.Generator().manual_seed(0)).double()
    assert excess_risk(denoiser_error(oracle, oracle, x0, sig), sig, 1.0) == 0.0
    err = denoiser_error(lambda x, t: x, oracle, x0, sig)  # the identity: no denoising at all
    assert (err > 0).all() and excess_risk(err, sig, 1.0) > 0.1
    q = torch.special.ndtr((sig.log() + 1.2) / 1.2)  # mid-quantiles of EDM's log-normal sigma
    torch.testing.assert_close(q, (torch.arange(8, dtype=F64) + 0.5) / 8)


def test_clean_equivalent_reads_the_measured_curve():
    n = [100.0, 300.0, 1000.0, 3000.0]
    m = [5.0 * k**-0.8 for k in n]  # a power law is a straight line in log-log: read exactly
    assert math.isclose(clean_equivalent(5.0 * 700**-0.8, n, m), 700, rel_tol=1e-9)
    assert math.isclose(clean_equivalent(5.0 * 6000**-0.8, n, m), 6000, rel_tol=1e-9)  # end segment extended
    assert math.isclose(clean_equivalent(5.0 * 50**-0.8, n, m), 50, rel_tol=1e-9)
    # 100 clean + 900 noisy scoring like 550 clean: each noisy sample is worth half a clean one
    assert math.isclose(noisy_sample_value(5.0 * 550**-0.8, 100, 900, n, m), 0.5, rel_tol=1e-9)
    # a point worse than a smaller run is ignored (the running minimum)
    assert math.isclose(clean_equivalent(0.5, [1, 2, 4, 8], [1.0, 0.5, 0.6, 0.25]), 2.0, rel_tol=1e-9)
    with pytest.raises(ValueError, match="never improves"):
        clean_equivalent(0.5, [1, 2], [1.0, 1.0])
    with pytest.raises(ValueError):
        clean_equivalent(0.5, [2, 1], [1.0, 0.5])


def test_bad_sigma_n_raises():
    model = edm_mlp(2, 8, 2, 1.0)
    with pytest.raises(ValueError, match="sigma_n"):
        ambient_loss(model, torch.randn(4, 2), torch.zeros(3), schedule=model.schedule)
    with pytest.raises(ValueError, match="NaN"):
        ambient_loss(model, torch.full((4, 2), math.nan), torch.zeros(4), schedule=model.schedule)


def test_smoke_run_writes_the_run_directory(tmp_path):
    from genlab.core.run import train
    from genlab.theory.recipes.ambient import RECIPE

    run = train(RECIPE, RECIPE.make_config("smoke"), "smoke", out=tmp_path)
    numbers = json.loads((run / "eval.json").read_text())
    claims = json.loads((run / "claims.json").read_text())
    assert (run / "samples.png").stat().st_size > 0 and (run / "digits.png").stat().st_size > 0
    for key in (
        "gmm/clean_300/excess_risk",
        "gmm/mix_sigma0.2/excess_risk",
        "digits/mix/mmd",
        "gmm/log_gap_closure",
    ):
        assert math.isfinite(numbers[key])
    assert "gmm/value_sigma0.2" in numbers and "digits/value" in numbers  # NaN when 30 steps learn no trend
    assert numbers["claims"] == len(claims["claims"]) == 8
