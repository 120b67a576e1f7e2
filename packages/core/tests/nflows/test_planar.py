"""Planar and radial flows: generative direction only, exact log-dets, constraints that keep them invertible."""

import pytest
import torch

from genlab.core.nflows import Planar, Radial


def _jacobian_logdets(layer, z):
    jac = torch.stack(
        [torch.autograd.functional.jacobian(lambda v: layer.inverse(v[None])[0][0], zi) for zi in z]
    )
    return torch.linalg.slogdet(jac)[1]


@pytest.mark.parametrize("cls", [Planar, Radial])
def test_log_det_matches_autograd_jacobian(cls):
    torch.manual_seed(0)
    layer = cls(3).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0, 1.5)
    z = 2 * torch.randn(6, 3, dtype=torch.float64)
    _, logdet = layer.inverse(z)
    assert logdet.shape == (6,)
    assert torch.allclose(logdet, _jacobian_logdets(layer, z), atol=1e-6)


@pytest.mark.parametrize("cls", [Planar, Radial])
def test_normalising_direction_is_refused_with_the_reason(cls):
    with pytest.raises(NotImplementedError, match="no closed-form inverse.*generative direction"):
        cls(2)(torch.randn(3, 2))


def test_planar_constraint_keeps_the_map_monotone_along_w():
    torch.manual_seed(0)
    s = torch.linspace(-6, 6, 4001, dtype=torch.float64)
    for _ in range(50):
        layer = Planar(2).double()
        with torch.no_grad():
            layer.w.normal_(0, 2)
            layer.u.copy_(-(1.5 + 4 * torch.rand(())) * layer.w / (layer.w @ layer.w))  # raw w^T u < -1.5
            layer.b.normal_()
        u_hat, w = layer.u_hat(), layer.w
        assert w @ u_hat > -1
        # w^T f(z) depends on z only through a = w^T z: a + (w^T u_hat) tanh(a + b) must increase strictly
        along = s + (w @ u_hat) * torch.tanh(s + layer.b)
        assert (along.diff() > 0).all()
        raw = s + (w @ layer.u) * torch.tanh(s + layer.b)
        assert not (raw.diff() > 0).all()  # without the constraint the map folds
        z = 3 * torch.randn(256, 2, dtype=torch.float64)
        assert torch.isfinite(layer.inverse(z)[1]).all()


def test_radial_constraint_keeps_the_radius_map_increasing():
    torch.manual_seed(0)
    r = torch.linspace(0, 10, 4001, dtype=torch.float64)
    for _ in range(50):
        layer = Radial(2).double()
        with torch.no_grad():
            layer.raw_alpha.normal_(0, 2)
            layer.raw_beta.normal_(-3, 3)  # beta close to its bound -alpha
        alpha, beta = layer.alpha_beta()
        assert alpha > 0 and beta > -alpha
        # f moves z along z - z0, so it is injective iff r -> r (1 + beta / (alpha + r)) increases strictly
        radius = r * (1 + beta / (alpha + r))
        assert (radius.diff() > 0).all()
        z = 3 * torch.randn(256, 2, dtype=torch.float64)
        assert torch.isfinite(layer.inverse(z)[1]).all()


def test_radial_violation_would_fold():
    r = torch.linspace(0, 10, 1001)
    alpha, beta = 1.0, -2.0  # beta < -alpha
    assert not ((r * (1 + beta / (alpha + r))).diff() > 0).all()


def test_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"\[B, D\]"):
        Planar(2).inverse(torch.randn(3, 3))
