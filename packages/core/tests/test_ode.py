import math

import pytest
import torch

from genlab.core.grids import time_grid
from genlab.core.ode import integrate, integrate_adaptive


def test_rk4_is_exact_for_a_cubic_path():
    # dx/dt = 3 t^2 from t = 0 to 1 moves x by exactly 1 (flow_matching's solver test)
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    out = integrate(
        lambda x, t: 3 * t[:, None] ** 2 * torch.ones_like(x),
        x,
        time_grid(4, (1,), dtype=torch.float64).flip(0),
        "rk4",
    )
    assert torch.allclose(out, torch.tensor([[2.0, 1.0]], dtype=torch.float64), atol=1e-12)
    adaptive = integrate_adaptive(lambda x, t: 3 * t[:, None] ** 2 * torch.ones_like(x), x, 0.0, 1.0)
    assert torch.allclose(adaptive, torch.tensor([[2.0, 1.0]], dtype=torch.float64), atol=1e-5)


@pytest.mark.parametrize("method, order", [("euler", 1), ("midpoint", 2), ("heun", 2), ("rk4", 4)])
def test_error_falls_with_the_method_order(method, order):
    # dx/dt = -x from t = 1 to t = 0 multiplies x by e
    x = torch.ones(1, 1, dtype=torch.float64)
    errors = [
        (integrate(lambda x, t: -x, x, time_grid(n, (1,)).double(), method) - math.e).abs().item()
        for n in (8, 16, 32)
    ]
    slopes = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert all(abs(s - order) < 0.3 for s in slopes), slopes


def test_gradient_through_the_solver():
    # a constant velocity a moves x from t = 1 to t = 0 by -a: d x_end / d a = -1
    a = torch.tensor([2.0], requires_grad=True)
    x_end = integrate(lambda x, t: a.expand_as(x), torch.zeros(3, 1), time_grid(5, (3,)), "heun")
    x_end.sum().backward()
    assert torch.allclose(x_end, torch.full((3, 1), -2.0))
    assert a.grad.item() == pytest.approx(-3.0)


def test_per_element_grids_pass_through():
    # a grid of shape (K+1, B, T): each frame keeps its own clock; frames whose time is constant stay put
    grid = time_grid(4, (2, 3)).clone()
    grid[:, :, 0] = 0.0
    x = torch.ones(2, 3, 5)
    out = integrate(lambda x, t: torch.ones_like(x), x, grid, "euler")
    assert torch.equal(out[:, 0], x[:, 0]) and torch.allclose(out[:, 1:], torch.zeros(2, 2, 5))


def test_bad_grids_and_methods_are_named():
    with pytest.raises(ValueError, match="not a prefix"):
        integrate(lambda x, t: x, torch.zeros(2, 3), time_grid(3, (4,)))
    with pytest.raises(ValueError, match="did you mean 'heun'"):
        integrate(lambda x, t: x, torch.zeros(2, 3), time_grid(3, (2,)), "huen")
