import math

import numpy as np
import pytest
import torch

from genlab.core.diffusion import (
    Constraint,
    get_schedule,
    karras_grid,
    logsnr_grid,
    sample_adaptive,
    sample_ancestral,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
    sample_prior,
)
from genlab.core.ode import time_grid

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
        return logsnr_grid(sch, k, (64,), t_min=2e-3, dtype=F64)

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
    ref = sample_heun(den, x1, logsnr_grid(sch, 512, (32,), t_min=1e-4, dtype=F64))
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
    g = karras_grid(edm, 10, (3,), dtype=F64)
    assert g.shape == (11, 3) and g[-1].eq(0).all()
    sig = edm.alpha_sigma(g[:-1, 0])[1]
    torch.testing.assert_close(sig[[0, -1]], torch.tensor([80.0, 0.002], dtype=F64))
    ramp = sig ** (1 / 7)
    torch.testing.assert_close(ramp.diff(), ramp.diff()[:1].expand(9))  # uniform in sigma^(1/rho)
    cos = get_schedule("cosine")
    lam = cos.logsnr(logsnr_grid(cos, 6, t_min=1e-2, dtype=F64)[:-1])
    torch.testing.assert_close(lam.diff(), lam.diff()[:1].expand(5))
    with pytest.raises(ValueError, match="logSNR is infinite"):
        logsnr_grid(get_schedule("rectified_flow"), 4)


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
