import pytest
import torch

from genlab.core.tokenizers import FSQ


@pytest.mark.parametrize("levels", [[8, 5, 5, 5], [7, 5, 5, 5, 5], [2, 3, 4]])
def test_round_trip_and_every_code_is_reachable(levels):
    fsq = FSQ(levels)
    z = 3 * torch.randn(20000, len(levels))
    codes, idx, aux = fsq(z)
    assert aux == {} and codes.abs().max() <= 1
    assert torch.equal(fsq.indices_to_codes(idx), codes)
    every = torch.arange(fsq.codebook_size)
    assert torch.equal(fsq(_preimage(fsq, every))[1], every)
    if fsq.codebook_size <= 200:
        assert len(idx.unique()) == fsq.codebook_size


def _preimage(fsq, indices):
    """An input that FSQ maps to each index: invert the bound at the code's level (kept inside its range)."""
    half = (fsq.levels - 1) * (1 + fsq.eps) / 2
    offset = (fsq.levels % 2 == 0) * 0.5
    target = (fsq.indices_to_codes(indices) * (fsq.levels // 2)).clamp(
        -half - offset + 0.1, half - offset - 0.1
    )
    return torch.atanh((target + offset) / half) - torch.atanh(offset / half)


def test_zero_maps_to_the_zero_code_and_levels_are_counted():
    fsq = FSQ([4, 5])
    codes, _, _ = fsq(torch.zeros(1, 2))
    assert torch.equal(codes, torch.zeros(1, 2))
    values = fsq(torch.linspace(-6, 6, 1001)[:, None].expand(-1, 2))[0]
    assert len(values[:, 0].unique()) == 4 and len(values[:, 1].unique()) == 5


def test_straight_through_gradient():
    fsq = FSQ([8, 8])
    z = torch.randn(10, 2, requires_grad=True)
    fsq(z)[0].sum().backward()
    bound_grad = (
        (1 - torch.tanh(z + torch.atanh(torch.tensor(0.5 / (3.5 * (1 + 1e-3))))) ** 2) * 3.5 * (1 + 1e-3) / 4
    )
    torch.testing.assert_close(z.grad, bound_grad.detach())


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=">= 2"):
        FSQ([1, 5])
    with pytest.raises(ValueError, match=r"\[\.\.\., 2\]"):
        FSQ([3, 3])(torch.randn(4, 3))
