"""Rezende & Mohamed's energies U1-U4 at hand-computed points, their symmetries, and the confining wall."""

import math

import pytest
import torch

from genlab.core.nflows import ENERGIES, log_target
from genlab.core.nflows.energies import u1, u2, u3, u4


def _z(*points):
    return torch.tensor(points, dtype=torch.float64)


def test_u1_hand_values():
    # on the ring |z| = 2 at z1 = 2 only the mode term is left: -ln(1 + exp(-(4 / 0.6)^2 / 2))
    expected = -math.log(1 + math.exp(-0.5 * (4 / 0.6) ** 2))
    assert u1(_z([2.0, 0.0])).item() == pytest.approx(expected, abs=1e-12)
    # at the origin: (2 / 0.4)^2 / 2 - ln(2 exp(-(2 / 0.6)^2 / 2))
    expected = 0.5 * 25 - math.log(2 * math.exp(-0.5 * (2 / 0.6) ** 2))
    assert u1(_z([0.0, 0.0])).item() == pytest.approx(expected, abs=1e-10)


def test_u2_is_zero_on_the_sine_curve():
    z1 = torch.linspace(-4, 4, 9, dtype=torch.float64)
    on_curve = torch.stack([z1, torch.sin(math.pi * z1 / 2)], 1)
    assert torch.allclose(u2(on_curve), torch.zeros(9, dtype=torch.float64), atol=1e-12)
    assert u2(_z([1.0, 1.4])).item() == pytest.approx(0.5, abs=1e-12)  # one 0.4 away from w1(1) = 1


def test_u3_and_u4_hand_values():
    # z1 = 1: w1 = 1, w2 = 3, w3 = 1.5; at z2 = w1 - w2 the second branch is exactly at its centre
    expected = -math.log(math.exp(-0.5 * (3 / 0.35) ** 2) + 1)
    assert u3(_z([1.0, -2.0])).item() == pytest.approx(expected, abs=1e-12)
    expected = -math.log(math.exp(-0.5 * (1.5 / 0.4) ** 2) + 1)
    assert u4(_z([1.0, -0.5])).item() == pytest.approx(expected, abs=1e-12)


def test_u1_is_symmetric_under_both_reflections():
    z = torch.randn(32, 2, dtype=torch.float64)
    assert torch.allclose(u1(z), u1(-z))
    assert torch.allclose(u1(z), u1(z * torch.tensor([1.0, -1.0], dtype=torch.float64)))


@pytest.mark.parametrize("name", list(ENERGIES))
def test_log_target_is_minus_u_inside_the_box_and_integrable(name):
    z = 8 * torch.rand(64, 2, dtype=torch.float64) - 4
    target = log_target(name)
    assert torch.allclose(target(z), -ENERGIES[name](z))
    assert (target(z * 2.5) <= -ENERGIES[name](z * 2.5)).all()
    assert (target(z * 2.5) < -ENERGIES[name](z * 2.5)).any()
    # the wall leaves a finite mass: a wider grid adds (almost) nothing
    s = torch.linspace(-8, 8, 801, dtype=torch.float64)
    grid = torch.cartesian_prod(s, s)
    inner = (grid.abs() <= 5).all(1)
    mass = target(grid).exp()
    assert mass[~inner].sum() < 1e-6 * mass[inner].sum()


def test_raw_energy_and_errors():
    z = _z([10.0, 0.0])
    assert log_target("U2", bound=None)(z).item() == pytest.approx(-u2(z).item())
    with pytest.raises(ValueError, match="did you mean 'U1'"):
        log_target("U11")
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        u1(torch.randn(3, 3))
