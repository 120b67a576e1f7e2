"""The closed-form mixture interpolant is itself checked before it serves as an oracle."""

import pytest
import torch

from genlab.core.data.mixtures import GaussianMixture
from genlab.core.flow import Interpolant, MixtureInterpolant, velocity_objective
from genlab.core.grids import time_grid
from genlab.core.ode import integrate

SOURCE = GaussianMixture(
    torch.tensor([[-2.0, 0.0], [2.0, 1.0]]), torch.tensor([0.5, 0.3]), torch.tensor([0.3, 0.7])
)
TARGET = GaussianMixture(torch.tensor([[0.0, 2.0], [0.0, -2.0], [3.0, 0.0]]), 0.4)


@pytest.mark.parametrize(
    "interpolant", [Interpolant("linear"), Interpolant("trig"), Interpolant("linear", a=0.5)]
)
def test_velocity_solves_the_continuity_equation(interpolant):
    # d rho / dt + div(b rho) = 0, checked with autograd in x and central differences in t
    field = MixtureInterpolant(SOURCE, TARGET, interpolant)
    x = torch.randn(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    t = torch.full((16,), 0.4, dtype=torch.float64)
    h = 1e-5
    drho_dt = (field.log_prob(x, t + h).exp() - field.log_prob(x, t - h).exp()) / (2 * h)
    x.requires_grad_(True)
    flux = field(x, t) * field.log_prob(x, t).exp()[:, None]
    div = sum(torch.autograd.grad(flux[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(2))
    assert torch.allclose(drho_dt, -div.detach(), atol=1e-6, rtol=1e-4)


def test_endpoints_are_the_two_mixtures():
    field = MixtureInterpolant(SOURCE, TARGET, Interpolant("trig"))
    x = torch.randn(100, 2, dtype=torch.float64)
    assert torch.allclose(field.log_prob(x, torch.zeros(100)), SOURCE.log_prob(x).double(), atol=1e-10)
    assert torch.allclose(field.log_prob(x, torch.ones(100)), TARGET.log_prob(x).double(), atol=1e-10)


def test_integrating_the_exact_velocity_transports_target_to_source():
    field = MixtureInterpolant(SOURCE, TARGET, Interpolant("linear"))
    x1 = TARGET.sample(4000, torch.Generator().manual_seed(1)).double()
    x0 = integrate(field, x1, time_grid(200, (4000,), dtype=torch.float64), "rk4")
    reference = SOURCE.sample(40_000, torch.Generator().manual_seed(2))
    # the pushed samples score like fresh source samples under the source density, with its weights
    assert SOURCE.log_prob(x0).mean().item() == pytest.approx(
        SOURCE.log_prob(reference).mean().item(), abs=0.06
    )
    assert (x0[:, 0] > 0).double().mean().item() == pytest.approx(0.7, abs=0.03)
    assert SOURCE.log_prob(x1).mean().item() < SOURCE.log_prob(reference).mean().item() - 3


def test_quadratic_objective_is_minimised_by_the_true_velocity():
    torch.manual_seed(0)
    field = MixtureInterpolant(SOURCE, TARGET, Interpolant("trig"))
    x0, x1 = SOURCE.sample(20000).double(), TARGET.sample(20000).double()

    def objective(model):
        torch.manual_seed(1)
        return velocity_objective(model, Interpolant("trig"), x0, x1).item()

    exact = objective(field)
    assert exact < objective(lambda x, t: field(x, t) + 0.2)
    assert exact < objective(lambda x, t: 0.9 * field(x, t))
