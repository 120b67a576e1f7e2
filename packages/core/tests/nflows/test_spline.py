"""The rational-quadratic spline (Durkan et al. 2019): exact inverse, derivative against autograd, monotone,
the identity at zero parameters and outside [-B, B]."""

import pytest
import torch

from genlab.core.nflows import NSF, rational_quadratic


def _params(n, bins, scale=2.0):
    return scale * torch.randn(
        n, 3 * bins - 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )


def test_inverse_and_log_derivatives_cancel():
    params, x = _params(2000, 8), 4 * torch.randn(2000, dtype=torch.float64)
    y, log_dy = rational_quadratic(x, params, 5.0)
    x_back, log_dx = rational_quadratic(y, params, 5.0, inverse=True)
    assert torch.allclose(x_back, x, atol=1e-8)
    assert torch.allclose(log_dy + log_dx, torch.zeros_like(x), atol=1e-8)


def test_log_derivative_matches_autograd():
    params = _params(500, 6)
    x = (3 * torch.randn(500, dtype=torch.float64)).requires_grad_()
    y, log_dy = rational_quadratic(x, params, 2.0)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(grad.log(), log_dy, atol=1e-10)


def test_monotone_onto_the_interval_and_identity_outside():
    params = _params(1, 5).expand(1001, -1)
    x = torch.linspace(-3, 3, 1001, dtype=torch.float64)
    y, log_dy = rational_quadratic(x, params, 2.0)
    assert (y.diff() > 0).all()
    outside = x.abs() >= 2
    assert torch.equal(y[outside], x[outside]) and (log_dy[outside] == 0).all()
    assert y[x.abs() < 2].abs().max() < 2  # [-B, B] onto itself


def test_zero_parameters_give_the_identity():
    x = torch.randn(10, 3)
    z, logdet = NSF(3, hidden=8)(x)  # MADE's last layer starts at zero
    assert torch.allclose(z, x, atol=1e-6) and torch.allclose(logdet, torch.zeros(10), atol=1e-6)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="3K - 1"):
        rational_quadratic(torch.zeros(3), torch.zeros(3, 7), 1.0)
    with pytest.raises(ValueError, match="bins >= 1"):
        NSF(2, bins=0)
