"""MADE, MAF, IAF and NSF: exactly zero gradient from every output to the inputs it must not see."""

import pytest
import torch

from genlab.core.nflows import IAF, MADE, MAF, NSF


def randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.5)
    return module


ORDER = torch.tensor([3, 1, 5, 2, 4])


def _jacobian(fn, x):
    """d fn(x)[i] / d x[j] for one sample, summed over any extra output axes."""
    return torch.autograd.functional.jacobian(lambda v: fn(v[None])[0], x)


def test_made_outputs_see_exactly_the_earlier_inputs():
    torch.manual_seed(0)
    made = randomize(MADE(5, hidden=16, depth=2, params=3, order=ORDER))
    jac = _jacobian(made, torch.randn(5))  # [params, D, D]
    allowed = ORDER[None, :] < ORDER[:, None]  # output d may see input j iff order[j] < order[d]
    assert jac.shape == (3, 5, 5)
    assert (jac[:, ~allowed] == 0).all()  # exactly zero, not just small
    assert (jac[:, allowed] != 0).all()  # and the hidden layers are wide enough to connect every pair


def test_made_context_reaches_every_output():
    torch.manual_seed(0)
    made = randomize(MADE(3, hidden=8, params=2, context_features=2))
    x = torch.randn(1, 3)
    jac = torch.autograd.functional.jacobian(lambda c: made(x, c[None])[0], torch.randn(2))
    assert (jac.abs().sum(-1) > 0).all()
    with pytest.raises(ValueError, match="no context"):
        made(x)


@pytest.mark.parametrize(
    "direction", ["maf-forward", "iaf-inverse", "maf-inverse", "iaf-forward", "nsf-forward", "nsf-inverse"]
)
def test_autoregressive_flows_have_triangular_jacobians(direction):
    torch.manual_seed(0)
    kind, way = direction.split("-")
    layer = randomize({"maf": MAF, "iaf": IAF, "nsf": NSF}[kind](5, hidden=16, order=ORDER)).double()
    fn = layer if way == "forward" else layer.inverse
    jac = _jacobian(lambda v: fn(v)[0], torch.randn(5, dtype=torch.float64))
    later = ORDER[None, :] > ORDER[:, None]  # output i must not depend on inputs later in the order
    assert (jac[later] == 0).all()
    assert (jac.diagonal() != 0).all()


def test_made_rejects_a_bad_order():
    with pytest.raises(ValueError, match="permutation of 1..3"):
        MADE(3, order=torch.tensor([1, 1, 2]))
