"""genlab.core.likelihood.gaussian_log_prob, the one Gaussian log-density, against torch.distributions."""

import pytest
import torch
from torch import distributions as D

from genlab.core.likelihood import gaussian_log_prob


def test_matches_torch_normal_over_any_event():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    std = torch.rand(5, generator=g, dtype=torch.float64) + 0.5
    for event_dims, expected_shape in ((None, (4,)), (1, (4, 3)), (3, ())):
        n = 2 if event_dims is None else event_dims
        want = D.Independent(D.Normal(torch.zeros_like(z), std.expand_as(z)), n).log_prob(z)
        got = gaussian_log_prob(z, std, event_dims)
        assert got.shape == expected_shape
        torch.testing.assert_close(got, want)


def test_scalar_std_and_standard_normal():
    z = torch.randn(6, 2, dtype=torch.float64)
    torch.testing.assert_close(gaussian_log_prob(z), D.Normal(0.0, 1.0).log_prob(z).sum(-1))
    torch.testing.assert_close(gaussian_log_prob(z, 2.0), D.Normal(0.0, 2.0).log_prob(z).sum(-1))


@pytest.mark.parametrize("event_dims", [0, 3])
def test_bad_event_dims_is_named(event_dims):
    with pytest.raises(ValueError, match="event_dims"):
        gaussian_log_prob(torch.zeros(2, 3), event_dims=event_dims)
