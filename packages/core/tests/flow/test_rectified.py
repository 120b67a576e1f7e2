import pytest
import torch

from genlab.core.data.mixtures import GaussianMixture
from genlab.core.diffusion import get_schedule
from genlab.core.flow import (
    Interpolant,
    MixtureInterpolant,
    crossing_rate,
    reflow_pairs,
    simulate,
    straightness,
    transport_cost,
)
from genlab.core.flow.matching import LINEAR, path_sample
from genlab.core.metrics import mmd

DATA = GaussianMixture(torch.tensor([[-3.0, 0.0], [3.0, 0.0]]), 0.3)
NOISE = GaussianMixture(torch.zeros(1, 2), 1.0)


def test_a_constant_field_is_perfectly_straight():
    path = simulate(lambda x, t: torch.ones_like(x), torch.zeros(10, 2), steps=20)
    assert straightness(path) == pytest.approx(0.0, abs=1e-10)


def test_the_ode_coupling_preserves_the_marginal_and_lowers_the_cost():
    # 1-rectified flow with the exact marginal velocity of the linear path (Liu, Theorem 3.3 and 3.5)
    field = MixtureInterpolant(DATA, NOISE, Interpolant("linear"))
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(2000, 2, generator=g, dtype=torch.float64)
    data, _ = reflow_pairs(field, noise, steps=100)
    reference = DATA.sample(2000, g)
    assert mmd(data.float()[:1000], reference[:1000]) < 0.01
    independent = DATA.sample(2000, g).double()
    assert transport_cost(data, noise) < transport_cost(independent, noise)
    assert transport_cost(data, noise, "l1") < transport_cost(independent, noise, "l1")
    assert straightness(simulate(field, noise[:500], steps=100)) > 0.1  # curved: the mixture splits


def test_crossings_of_straight_interpolations():
    start = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    assert crossing_rate(torch.tensor([[1.0, 1.0], [1.0, 0.0]]), start) == 1.0
    assert crossing_rate(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), start) == 0.0
    with pytest.raises(ValueError, match="2D"):
        crossing_rate(torch.zeros(3, 3), torch.zeros(3, 3))


def test_time_direction_is_pinned_and_agrees_with_the_diffusion_core():
    x0, x1 = torch.zeros(4, 2), torch.ones(4, 2)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    xt, u = path_sample(LINEAR, x0, x1, t)
    assert torch.equal(xt[0], x0[0]) and torch.equal(xt[-1], x1[-1])  # t = 0 data, t = 1 noise
    assert torch.allclose(xt[1], torch.full((2,), 0.25)) and torch.equal(u, x1 - x0)
    # the diffusion core noises data the same way on the same linear path
    assert torch.equal(get_schedule("rectified_flow").add_noise(x0, x1, t), xt)
