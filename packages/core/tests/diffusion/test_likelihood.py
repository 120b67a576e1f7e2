import math

import pytest
import torch

from genlab.core.diffusion import get_schedule, log_likelihood

F64 = torch.float64


@pytest.fixture
def setup(exact, mixture):
    sch = get_schedule("cosine")
    x = mixture.sample(8, generator=torch.Generator().manual_seed(0)).to(F64)
    return exact(sch), x


def test_exact_divergence_matches_the_analytic_density(setup):
    den, x = setup
    t_min = 1e-5
    logp = log_likelihood(den, x, t_min=t_min, atol=1e-7, rtol=1e-7)
    truth = den.model.log_prob(x, torch.full((8,), t_min, dtype=F64))
    torch.testing.assert_close(logp, truth, rtol=0.01, atol=0)


def test_hutchinson_is_unbiased(setup):
    den, x = setup
    exact_logp = log_likelihood(den, x)
    g = torch.Generator().manual_seed(1)
    est = log_likelihood(den, x.repeat(32, 1), divergence="hutchinson", probes=8, generator=g)
    torch.testing.assert_close(est.reshape(32, 8).mean(0), exact_logp, rtol=0.05, atol=0.05)


def test_gradient_flows_and_is_the_score(setup, mixture):
    den, x = setup
    x = x[:4].clone().requires_grad_(True)
    log_likelihood(den, x, create_graph=True, atol=1e-7, rtol=1e-7).sum().backward()
    torch.testing.assert_close(x.grad, mixture.score(x.detach()), rtol=0.02, atol=0.02)


def test_unknown_divergence(setup):
    den, x = setup
    with pytest.raises(ValueError, match="unknown divergence 'hutch'"):
        log_likelihood(den, x, divergence="hutch")


def test_the_data_matched_prior_removes_the_edm_bias():
    """EDM keeps alpha = 1: with the default N(0, 80^2) prior the log-likelihood of Gaussian data with a
    large mean is off; N(m, s^2 + 80^2), the exact p_1 for that data, gives the true log-density."""
    from genlab.core.data import GaussianMixture
    from genlab.core.diffusion import Denoiser, MixtureDenoiser

    sch, m, s0 = get_schedule("edm"), torch.tensor([30.0, -20.0], dtype=F64), 1.0
    den = Denoiser(MixtureDenoiser(GaussianMixture(m[None], s0), sch), sch, "x0")
    x = m + s0 * torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    truth = den.model.log_prob(x, torch.zeros(4, dtype=F64))
    options = {"t_min": 1e-4, "atol": 1e-8, "rtol": 1e-8}
    matched = log_likelihood(den, x, prior_mean=m, prior_var=s0**2, **options)
    torch.testing.assert_close(matched, truth, rtol=0, atol=1e-3)
    # the default prior: the linear PF-ODE maps x to x1 = m + (x - m) r, r = sqrt(s^2 + 80^2) / s, whose
    # log-density under N(0, 80^2) plus log |dx1/dx| is what comes out, not the truth
    r = math.sqrt(s0**2 + 80**2) / s0
    x1 = m + (x - m) * r
    biased = (-0.5 * (x1 / 80) ** 2 - math.log(80 * math.sqrt(2 * math.pi))).sum(-1) + 2 * math.log(r)
    default = log_likelihood(den, x, **options)
    torch.testing.assert_close(default, biased, rtol=0, atol=1e-3)
    assert (default - truth).abs().mean() > 0.2
