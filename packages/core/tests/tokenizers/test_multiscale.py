import pytest
import torch

from genlab.core.tokenizers import MultiScaleVQ


def _features(n=16, dim=4, size=8, seed=0):
    """Smooth maps: a few low frequencies, so coarse scales already explain much of them."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(n, dim, 2, 2, generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)
    return smooth + 0.3 * torch.randn(n, dim, size, size, generator=g)


@pytest.mark.parametrize("upsample", ["bicubic", "area"])
def test_reconstruction_error_falls_as_scales_are_added(upsample):
    torch.manual_seed(0)
    scales = (1, 2, 4, 8)
    msvq = MultiScaleVQ(4, 256, scales=scales, upsample=upsample)
    f = _features()
    for _ in range(3):
        msvq(f)  # k-means start and EMA steps of the shared codebook
    msvq.eval()
    q, indices, aux = msvq(f)
    assert [tuple(i.shape) for i in indices] == [(16, s, s) for s in scales]
    torch.testing.assert_close(msvq.indices_to_codes(indices), q)
    errors = [((f - msvq.indices_to_codes(indices[:k], (8, 8))) ** 2).mean().item() for k in range(1, 5)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.2 * (f**2).mean()


def test_gradients_reach_the_encoder_and_the_phi_convolutions():
    torch.manual_seed(0)
    msvq = MultiScaleVQ(4, 32, scales=(1, 2, 4), num_phi=2)
    f = _features(n=4, size=4).requires_grad_()
    q, _, aux = msvq(f)
    assert set(aux) == {"commitment", "codebook"}
    w = torch.randn_like(f)
    (q * w).sum().backward(retain_graph=True)
    assert torch.equal(f.grad, w)  # straight through
    aux["codebook"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in msvq.phis.parameters())
    assert msvq.phi(0) is msvq.phis[0] and msvq.phi(2) is msvq.phis[1]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="increasing"):
        MultiScaleVQ(4, 8, scales=(2, 1))
    with pytest.raises(ValueError, match=r"\[B, 4, H, W\]"):
        MultiScaleVQ(4, 8, scales=(1, 2, 8))(torch.randn(2, 4, 4, 4))
