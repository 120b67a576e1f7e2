import math

import numpy as np
import pytest
import torch

from genlab.core.diffusion import (
    Constraint,
    ddim_step,
    get_schedule,
    sample_adaptive,
    sample_ancestral,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
    sample_prior,
)
from genlab.core.grids import karras_grid, logsnr_grid, time_grid

F64 = torch.float64


def _moments(x):
    return x.mean(0), torch.cov(x.T)


def _mixture_moments(mixture):
    w, mu, s2 = mixture.weights, mixture.means, mixture.stds**2
    mean = (w[:, None] * mu).sum(0)
    second = (
        w[:, None, None] * (mu[:, :, None] * mu[:, None, :] + s2[:, None, None] * torch.eye(2, dtype=F64))
    ).sum(0)
    return mean, second - mean[:, None] * mean[None]


@pytest.mark.parametrize(
    "sampler, order",
    [(sample_euler, 1), (sample_ddim, 1), (sample_heun, 2), (sample_dpmpp_2m, 2)],
    ids=["euler", "ddim", "heun", "dpmpp_2m"],
)
def test_error_falls_with_the_order_of_the_method(exact, sampler, order):
    """Endpoint error against a 1024-step reference from the same x_init: log-log slope = order."""
    sch = get_schedule("cosine")
    den = exact(sch)
    x1 = sample_prior(sch, (64, 2), generator=torch.Generator().manual_seed(0), dtype=F64)

    def grid(k):
        return logsnr_grid(k, (64,), schedule=sch, t_min=2e-3, dtype=F64)

    ref = sample_heun(den, x1, grid(1024))
    steps = [16, 32, 64]
    errs = [(sampler(den, x1, grid(k)) - ref).norm(dim=-1).mean().item() for k in steps]
    slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.25, (errs, slope)


def _heun_churn(*args, **kwargs):
    return sample_heun(*args, churn=20, **kwargs)


@pytest.mark.parametrize(
    "sampler, steps",
    [
        (sample_dpmpp_2m, 32),
        (_heun_churn, 32),
        (sample_ancestral, 128),
    ],  # DDPM's x0_hat shrinks variance at few steps
    ids=["dpmpp_2m", "heun_churn", "ancestral"],
)
def test_samples_follow_the_data_distribution(exact, mixture, sampler, steps):
    sch = get_schedule("cosine")
    g = torch.Generator().manual_seed(1)
    x1 = sample_prior(sch, (3000, 2), generator=g, dtype=F64)
    x = sampler(exact(sch), x1, time_grid(steps, (3000,), dtype=F64), generator=g)
    mean, cov = _moments(x)
    true_mean, true_cov = _mixture_moments(mixture)
    torch.testing.assert_close(mean, true_mean, atol=0.05, rtol=0)
    torch.testing.assert_close(cov, true_cov, atol=0.06, rtol=0)


@pytest.mark.parametrize(
    "sampler",
    [sample_euler, sample_heun, sample_dpmpp_2m, sample_ddim],
    ids=["euler", "heun", "dpmpp_2m", "ddim"],
)
def test_per_frame_grids_pass_through(exact, sampler):
    """A (K+1, B, T) scheduling matrix: a frame kept at t = 0 is untouched; a frame that waits
    and then moves ends where it would alone."""
    sch, b, k = get_schedule("cosine"), 16, 8
    den = exact(sch)
    g = torch.Generator().manual_seed(2)
    alone = time_grid(k, (b,), dtype=F64)
    x1 = sample_prior(sch, (b, 2), generator=g, dtype=F64)
    history = torch.randn(b, 2, generator=g, dtype=F64)
    grid = torch.zeros(2 * k + 1, b, 3, dtype=F64)
    grid[: k + 1, :, 1], grid[k + 1 :, :, 1] = alone, 0.0  # frame 1: moves first
    grid[:k, :, 2], grid[k:, :, 2] = 1.0, alone  # frame 2: waits, then moves
    x = sampler(den, torch.stack([history, x1, x1], 1), grid)
    assert torch.equal(x[:, 0], history)
    ref = sampler(den, x1, alone)
    torch.testing.assert_close(x[:, 1], ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(x[:, 2], ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("form", ["clean", "noised"])
@pytest.mark.parametrize(
    "sampler", [sample_ancestral, sample_dpmpp_2m, _heun_churn], ids=["ancestral", "dpmpp_2m", "heun_churn"]
)
def test_constraints_hold_exactly_after_sampling(exact, sampler, form):
    sch = get_schedule("cosine")
    g = torch.Generator().manual_seed(3)
    values = torch.randn(32, 2, generator=g, dtype=F64)
    mask = torch.zeros(32, 2, dtype=torch.bool)
    mask[:, 0] = True
    mask[:4] = True
    c = Constraint(values, mask, form)
    x = sampler(
        exact(sch),
        sample_prior(sch, (32, 2), generator=g, dtype=F64),
        time_grid(16, (32,), dtype=F64),
        constraint=c,
        generator=g,
    )
    assert torch.equal(x[mask], values[mask])
    assert not torch.equal(x[~mask], values[~mask])


def test_adaptive_matches_the_fine_reference(exact):
    sch = get_schedule("cosine")
    den = exact(sch)
    x1 = sample_prior(sch, (32, 2), generator=torch.Generator().manual_seed(4), dtype=F64)
    ref = sample_heun(den, x1, logsnr_grid(512, (32,), schedule=sch, t_min=1e-4, dtype=F64))
    out = sample_adaptive(den, x1, time_grid(2, (32,), dtype=F64), t_min=1e-4, atol=1e-7, rtol=1e-7)
    torch.testing.assert_close(out, ref, atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="single time"):
        sample_adaptive(den, x1, torch.rand(3, 32, dtype=F64).sort(0, descending=True).values)


def test_rectified_flow_euler_is_exact_for_a_point_mass():
    """With straight paths (one data point) one Euler step is exact: x0 = x1 - v."""
    sch = get_schedule("rectified_flow")
    from genlab.core.diffusion import Denoiser

    target = torch.tensor([0.5, -2.0], dtype=F64)
    den = Denoiser(lambda x, t: target.expand_as(x), sch, "x0")
    x1 = torch.randn(8, 2, dtype=F64)
    torch.testing.assert_close(sample_euler(den, x1, time_grid(1, (8,), dtype=F64)), target.expand(8, 2))


def test_grid_helpers():
    edm = get_schedule("edm")
    g = karras_grid(10, (3,), schedule=edm, dtype=F64)
    assert g.shape == (11, 3) and g[-1].eq(0).all()
    sig = edm.alpha_sigma(g[:-1, 0])[1]
    torch.testing.assert_close(sig[[0, -1]], torch.tensor([80.0, 0.002], dtype=F64))
    ramp = sig ** (1 / 7)
    torch.testing.assert_close(ramp.diff(), ramp.diff()[:1].expand(9))  # uniform in sigma^(1/rho)
    cos = get_schedule("cosine")
    lam = cos.logsnr(logsnr_grid(6, schedule=cos, t_min=1e-2, dtype=F64)[:-1])
    torch.testing.assert_close(lam.diff(), lam.diff()[:1].expand(5))
    rf = get_schedule("rectified_flow")
    g = logsnr_grid(5, schedule=rf, t_min=1e-2, dtype=F64)  # logSNR(1) = -inf: clipped at -20
    assert g[0] == 1 and g[-1] == 0
    torch.testing.assert_close(rf.logsnr(g[1:-1]).diff(), rf.logsnr(g[1:-1]).diff()[:1].expand(3))
    with pytest.raises(ValueError, match="logSNR is infinite"):
        logsnr_grid(4, schedule=rf, t_min=0.0)
    with pytest.raises(ValueError, match="needs a schedule"):
        logsnr_grid(4)


def test_bad_grids_and_inputs(exact):
    den = exact(get_schedule("cosine"))
    x = torch.randn(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="must not increase"):
        sample_euler(den, x, torch.linspace(0, 1, 5, dtype=F64)[:, None].expand(5, 4))
    with pytest.raises(ValueError, match="not a prefix"):
        sample_euler(den, x, time_grid(4, (3,), dtype=F64))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sample_euler(den, x, 2 * time_grid(4, (4,), dtype=F64))
    with pytest.raises(ValueError, match="non-finite"):
        sample_euler(den, x * math.nan, time_grid(4, (4,), dtype=F64))


def _karras_reference(denoise, x, sigmas, heun, churn=0.0, s_tmin=0.0, s_tmax=math.inf, generator=None):
    """Karras et al. (2022) Algorithms 1 and 2, written from the paper: ``denoise(x, sigma)`` is D,
    ``sigmas`` the steps t_0 > ... > t_N = 0 in sigma (alpha = 1)."""
    n = len(sigmas) - 1
    for i in range(n):
        t_i, t_next = sigmas[i], sigmas[i + 1]
        gamma = min(churn / n, math.sqrt(2) - 1) if s_tmin <= t_i <= s_tmax else 0.0
        if gamma > 0:
            t_hat = t_i * (1 + gamma)
            eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            x, t_i = x + math.sqrt(t_hat**2 - t_i**2) * eps, t_hat
        d = (x - denoise(x, t_i)) / t_i
        x_next = x + (t_next - t_i) * d
        if heun and t_next != 0:
            d_next = (x_next - denoise(x_next, t_next)) / t_next
            x_next = x + (t_next - t_i) * (d / 2 + d_next / 2)
        x = x_next
    return x


def _edm_reference_setup(exact, steps, b=256):
    edm = get_schedule("edm")
    den = exact(edm)
    grid = karras_grid(steps, (b,), schedule=edm, dtype=F64)
    sigmas = edm.alpha_sigma(grid[:, 0])[1].tolist()

    def denoise(x, sigma):
        t = edm.t_from_logsnr(torch.tensor(-2 * math.log(sigma), dtype=F64))
        return den.x0(x, t.expand(x.shape[0]))

    x1 = 80 * torch.randn(b, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    return den, grid, sigmas, denoise, x1


@pytest.mark.parametrize("nfe", [5, 10, 20, 50])
@pytest.mark.parametrize("name", ["euler", "heun"])
def test_euler_and_heun_match_karras_algorithm_1_on_edm(exact, name, nfe):
    """On the EDM schedule and grid our Euler / Heun are Karras's (they step in sigma), at equal NFE."""
    heun = name == "heun"
    steps = (nfe + 1) // 2 if heun else nfe
    den, grid, sigmas, denoise, x1 = _edm_reference_setup(exact, steps)
    ours = (sample_heun if heun else sample_euler)(den, x1, grid)
    torch.testing.assert_close(ours, _karras_reference(denoise, x1, sigmas, heun), rtol=1e-9, atol=1e-9)


def test_heun_matches_karras_algorithm_1_in_x_over_alpha_on_a_vp_schedule(exact):
    """On the cosine schedule the paper's algorithm runs on y = x / alpha with D(alpha y; t(sigma))."""
    sch = get_schedule("cosine")
    den = exact(sch)
    grid = karras_grid(8, (64,), schedule=sch, dtype=F64)
    a, s = sch.alpha_sigma(grid[:, 0])
    x1 = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=F64) * s[0]

    def denoise(y, r):
        t = sch.t_from_logsnr(torch.tensor(-2 * math.log(r), dtype=F64))
        return den.x0(sch.alpha_sigma(t)[0] * y, t.expand(y.shape[0]))

    ref = _karras_reference(denoise, x1 / a[0], (s / a).tolist(), True)
    torch.testing.assert_close(sample_heun(den, x1, grid), ref, rtol=1e-9, atol=1e-9)


def test_heun_with_churn_matches_karras_algorithm_2_on_edm(exact):
    den, grid, sigmas, denoise, x1 = _edm_reference_setup(exact, 16)
    edm, s_tmin, s_tmax = den.schedule, 0.05, 50.0
    t_range = tuple(
        edm.t_from_logsnr(torch.tensor(-2 * math.log(v), dtype=F64)).item() for v in (s_tmin, s_tmax)
    )
    ours = sample_heun(
        den, x1, grid, churn=10, churn_range=t_range, generator=torch.Generator().manual_seed(5)
    )
    ref = _karras_reference(
        denoise, x1, sigmas, True, 10, s_tmin, s_tmax, generator=torch.Generator().manual_seed(5)
    )
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)  # t_hat goes through t: round-off


@pytest.mark.parametrize("name", ["rectified_flow", "cosine"])
def test_heun_from_t_one_on_the_uniform_grid_is_second_order(name):
    """From t = 1, r = sigma / alpha is infinite (rectified flow) or 1808 (cosine); there Heun steps in
    alpha / sigma, stays second order, and 5 steps land near the fine solution (the trapezoid in r would
    weight eps_hat's change by ~r_t / 2: an error of order 10 here)."""
    from genlab.core.data import GaussianMixture
    from genlab.core.diffusion import Denoiser, MixtureDenoiser

    sch = get_schedule(name)
    mix = GaussianMixture(torch.tensor([[-1.0, 0.5], [1.0, -0.5], [0.0, 1.5]]), torch.tensor([0.3, 0.3, 0.4]))
    den = Denoiser(MixtureDenoiser(mix, sch), sch, "x0")
    x1 = sample_prior(sch, (64, 2), generator=torch.Generator().manual_seed(0), dtype=F64)

    def err(k):
        return (sample_heun(den, x1, time_grid(k, (64,), dtype=F64)) - ref).norm(dim=-1).mean().item()

    ref = sample_heun(den, x1, time_grid(1024, (64,), dtype=F64))
    steps = [8, 16, 32]
    slope = -np.polyfit(np.log(steps), np.log([err(k) for k in steps]), 1)[0]
    assert abs(slope - 2) < 0.3, slope
    assert err(5) < 0.2


def test_data_matched_prior_removes_the_edm_bias():
    """EDM keeps alpha = 1, so N(0, sigma_max^2) ignores the data's offset: the ODE lands off by about
    m s0 / sigma_max. N(m, s0^2 + sigma_max^2) is the exact x_1 for Gaussian data."""
    from genlab.core.data import GaussianMixture
    from genlab.core.diffusion import Denoiser, MixtureDenoiser

    sch, m, s0 = get_schedule("edm"), torch.tensor([12.0, -12.0], dtype=F64), 1.0
    den = Denoiser(MixtureDenoiser(GaussianMixture(m[None], s0), sch), sch, "x0")
    grid = karras_grid(40, (20000,), schedule=sch, dtype=F64)
    g = torch.Generator().manual_seed(0)
    biased = sample_heun(den, sample_prior(sch, (20000, 2), generator=g, dtype=F64), grid)
    matched_x1 = sample_prior(sch, (20000, 2), mean=m, var=s0**2, generator=g, dtype=F64)
    torch.testing.assert_close(matched_x1.mean(0), m, atol=1.5, rtol=0)  # 80 / sqrt(20000) = 0.57
    matched = sample_heun(den, matched_x1, grid)
    predicted = m * (1 - s0 / math.sqrt(s0**2 + 80**2))  # the linear ODE's image of N(0, 80^2)'s mean
    torch.testing.assert_close(biased.mean(0), predicted, atol=0.04, rtol=0)
    assert ((biased.mean(0) - m).abs() > 0.1).all()
    torch.testing.assert_close(matched.mean(0), m, atol=0.04, rtol=0)
    torch.testing.assert_close(matched.std(0), torch.full((2,), s0, dtype=F64), atol=0.03, rtol=0)


def test_callback_sees_every_step_and_the_denoised_estimate(exact):
    sch = get_schedule("cosine")
    den = exact(sch)
    x1 = sample_prior(sch, (8, 2), generator=torch.Generator().manual_seed(0), dtype=F64)
    grid = time_grid(5, (8,), dtype=F64)
    seen = []
    out = sample_ddim(den, x1, grid, callback=lambda k, t, x, x0: seen.append((k, t, x, x0)))
    assert [k for k, *_ in seen] == list(range(5)) and torch.equal(seen[0][2], x1)
    for k, t, x, x0 in seen:  # x at t (k-diffusion's callback), and its denoised estimate
        torch.testing.assert_close(t, grid[k])
        torch.testing.assert_close(x0, den.x0(x, t))
        nxt = seen[k + 1][2] if k + 1 < len(seen) else out
        torch.testing.assert_close(nxt, ddim_step(den, x, t, grid[k + 1])[0])


@pytest.mark.parametrize("sampler", [sample_ddim, sample_heun, sample_dpmpp_2m])
def test_a_one_dimensional_grid_gives_the_model_a_time_per_sample(sampler):
    """The same convention as the discrete samplers: a 1-D grid is shared by the batch, t is [B]."""
    from genlab.core.diffusion import Denoiser

    shapes = []

    def model(x, t):
        shapes.append(tuple(t.shape))
        return torch.zeros_like(x)

    sampler(Denoiser(model, get_schedule("cosine"), "eps"), torch.randn(3, 2), torch.linspace(1, 0, 4))
    assert shapes and set(shapes) == {(3,)}
