"""Glow's layers against its table: actnorm init, 1x1-conv log-det, coupling scale, squeeze and split."""

import math

import pytest
import torch

from genlab.core.nflows import (
    ActNorm,
    Flow,
    Invertible1x1Conv,
    Split,
    Squeeze,
    StandardNormal,
    glow,
    vector_coupling,
)
from genlab.core.nflows.base import Bijection


def test_actnorm_data_init_gives_zero_mean_unit_variance_per_channel():
    torch.manual_seed(0)
    x = 3 + 2 * torch.randn(16, 3, 5, 5) * torch.tensor([1.0, 4.0, 0.5]).view(1, 3, 1, 1)
    layer = ActNorm(3)
    y, _ = layer(x)
    per_channel = y.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(per_channel.std(1, correction=0), torch.ones(3), atol=1e-4)
    assert bool(layer.initialized)
    # a second batch does not re-initialise
    scale = layer.log_scale.detach().clone()
    layer(torch.randn(4, 3, 5, 5))
    assert torch.equal(layer.log_scale, scale)


def test_actnorm_log_det_is_spatial_size_times_sum_log_s():
    layer = ActNorm(2)
    layer(torch.randn(8, 2, 3, 4))
    _, logdet = layer(torch.randn(5, 2, 3, 4))
    assert torch.allclose(logdet, 12 * layer.log_scale.sum().expand(5))


@pytest.mark.parametrize("lu", [False, True])
def test_1x1_conv_log_det_is_slogdet_times_spatial_size(lu):
    torch.manual_seed(0)
    layer = Invertible1x1Conv(4, lu=lu)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    h, w = 3, 5
    _, logdet = layer(torch.randn(2, 4, h, w))
    expected = torch.linalg.slogdet(layer.matrix())[1] * h * w
    assert torch.allclose(logdet, expected.expand(2), rtol=1e-5)


def test_1x1_conv_acts_as_a_per_pixel_matrix():
    layer = Invertible1x1Conv(3)
    x = torch.randn(2, 3, 4, 4)
    y, _ = layer(x)
    assert torch.allclose(y[:, :, 1, 2], x[:, :, 1, 2] @ layer.matrix().T, atol=1e-6)


def test_affine_coupling_starts_with_glow_scale_sigmoid_two():
    layer = vector_coupling(4, hidden=8)  # zero-initialised last layer: h = 0, t = 0
    x = torch.randn(3, 4)
    y, logdet = layer(x)
    assert torch.equal(y[:, :2], x[:, :2])
    assert torch.allclose(y[:, 2:], x[:, 2:] * torch.sigmoid(torch.tensor(2.0)))
    assert torch.allclose(logdet, torch.full((3,), 2 * math.log(torch.sigmoid(torch.tensor(2.0)).item())))


def test_squeeze_moves_each_2x2_block_into_channels():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y, _ = Squeeze()(x)
    assert y.shape == (1, 4, 2, 2)
    assert y[0, :, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="even H and W"):
        Squeeze()(torch.randn(1, 1, 3, 4))


class _Shift(Bijection):
    """A shape-keeping inner flow that adds 1 (log-det 0)."""

    def forward(self, x, context=None):
        return x + 1, x.new_zeros(x.shape[0])

    def inverse(self, z, context=None):
        return z - 1, z.new_zeros(z.shape[0])


def test_split_factors_out_half_with_its_conditional_prior():
    torch.manual_seed(0)
    split = Split(4, _Shift())
    x = torch.randn(2, 4, 3, 3)
    y, logdet = split(x)
    # zero-initialised prior: N(0, I), so the factored half passes unchanged and the inner flow sees the rest
    assert torch.equal(y[:, 2:], x[:, 2:]) and torch.equal(y[:, :2], x[:, :2] + 1)
    assert torch.equal(logdet, torch.zeros(2))
    # with a trained prior the factored half is scored by N(mu(x1), sigma(x1))
    with torch.no_grad():
        split.prior.weight.normal_(0, 0.1)
        split.prior.bias.normal_(0, 0.1)
    y, logdet = split(x)
    mu, log_sigma = split.prior(x[:, :2]).chunk(2, 1)
    prior = torch.distributions.Normal(mu, log_sigma.exp()).log_prob(x[:, 2:]).flatten(1).sum(1)
    standard = torch.distributions.Normal(0.0, 1.0).log_prob(y[:, 2:]).flatten(1).sum(1)
    assert torch.allclose(standard + logdet, prior, atol=1e-5)


def test_glow_flow_keeps_the_image_shape_and_samples():
    torch.manual_seed(0)
    flow = Flow(glow(1, levels=2, steps=2, hidden=8), StandardNormal(1, 8, 8))
    x = torch.rand(4, 1, 8, 8)
    log_p = flow.log_prob(x)
    assert log_p.shape == (4,) and torch.isfinite(log_p).all()
    assert flow.sample(3).shape == (3, 1, 8, 8)
    flow.forward_kl(x).backward()
    grads = [p.grad for p in flow.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
