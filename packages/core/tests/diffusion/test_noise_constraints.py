import pytest
import torch

from genlab.core.diffusion import (
    Constraint,
    Denoiser,
    com_free_dims,
    diffusion_loss,
    get_schedule,
    remove_com,
    sample_ancestral,
    zero_com,
)
from genlab.core.grids import time_grid

F64 = torch.float64


def _mask():
    mask = torch.ones(5, 7, dtype=torch.bool)
    mask[1, 4:] = False
    mask[3, 2:] = False
    return mask


def test_zero_com_noise_is_centred_over_real_nodes():
    mask = _mask()
    x = torch.empty(5, 7, 3, dtype=F64)
    eps = zero_com(mask)(x, torch.Generator().manual_seed(0))
    com = (eps * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    torch.testing.assert_close(com, torch.zeros(5, 3, dtype=F64), atol=1e-12, rtol=0)
    assert (eps[~mask] == 0).all()
    assert torch.equal(com_free_dims(mask), (mask.sum(1) - 1) * 3)


def test_zero_com_noise_has_the_projected_variance():
    """Projection onto the CoM-free subspace leaves per-coordinate variance (N - 1) / N."""
    eps = zero_com()(torch.empty(20000, 4, 3, dtype=F64), torch.Generator().manual_seed(1))
    assert float(eps.var(0).mean()) == pytest.approx(3 / 4, abs=0.02)


def test_sampling_with_zero_com_noise_stays_centred():
    mask = _mask()
    sch = get_schedule("cosine")
    den = Denoiser(lambda x, t: remove_com(0.5 * x + 0.1 * x**2, mask), sch, "x0")  # a CoM-free x0 model
    noise = zero_com(mask)
    g = torch.Generator().manual_seed(2)
    x = sample_ancestral(
        den,
        noise(torch.empty(5, 7, 3, dtype=F64), g),
        time_grid(20, (5,), dtype=F64),
        noise_fn=noise,
        generator=g,
    )
    com = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    torch.testing.assert_close(com, torch.zeros(5, 3, dtype=F64), atol=1e-10, rtol=0)
    assert (x[~mask] == 0).all() and (x[mask] != 0).all()


def test_zero_com_noise_in_the_training_loss():
    mask, sch, seen = _mask(), get_schedule("cosine"), {}

    def model(x, t):
        seen["x"] = x
        return torch.zeros_like(x)

    x0 = remove_com(torch.randn(5, 7, 3, dtype=F64), mask)
    diffusion_loss(Denoiser(model, sch, "eps"), x0, noise_fn=zero_com(mask), mask=mask)
    com = (seen["x"] * mask[..., None]).sum(1)
    torch.testing.assert_close(com, torch.zeros(5, 3, dtype=F64), atol=1e-10, rtol=0)


def test_constraint_forms():
    sch = get_schedule("cosine")
    values, x = torch.randn(4, 3, dtype=F64), torch.randn(4, 3, dtype=F64)
    mask = torch.tensor([True, False, True, False])
    t = torch.full((4,), 0.5, dtype=F64)
    out = Constraint(values, mask).apply(x, t, sch)
    assert torch.equal(out[mask], values[mask]) and torch.equal(out[~mask], x[~mask])
    eps = torch.randn(4, 3, dtype=F64)
    out = Constraint(values, mask, "noised").apply(x, t, sch, noise_fn=lambda x, g: eps)
    torch.testing.assert_close(out[mask], sch.add_noise(values, eps, t)[mask])
    with pytest.raises(ValueError, match="unknown constraint form 'clear'"):
        Constraint(values, mask, "clear")
    with pytest.raises(ValueError, match="does not fit"):
        Constraint(values, torch.ones(3, dtype=torch.bool)).apply(x, t, sch)
