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
