"""Every invertible layer: round trip, log-dets against the autograd Jacobian, log-dets summing to 0."""

import pytest
import torch

from genlab.core.nflows import (
    IAF,
    MAF,
    NSF,
    ActNorm,
    Chain,
    Inverse,
    Invertible1x1Conv,
    Permute,
    ResidualBlock,
    Split,
    Squeeze,
    glow,
    image_coupling,
    vector_coupling,
)


def randomize(module, scale=0.3):
    """Move every parameter off its (often zero) initialisation so each layer is non-trivial."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))
    return module


def initialized(layer, x):
    layer(x)  # ActNorm's data-dependent initialisation happens on the first forward call
    return randomize(layer, 0.1)


def _iresnet():
    block = randomize(ResidualBlock(3, hidden=8, c=0.8, exact=True, inverse_iters=200), 0.5)
    for _ in range(50):  # let spectral_norm's power iteration catch up with the new weights
        block.g(torch.zeros(1, 3))
    return block.eval()  # eval freezes the estimate, so forward and inverse see the same g


# name -> (layer factory, x shape, context shape or None, whether the inverse is differentiable)
CASES = {
    "actnorm-vector": (lambda x: initialized(ActNorm(3), x), (4, 3), None, True),
    "actnorm-image": (lambda x: initialized(ActNorm(2), x), (3, 2, 3, 3), None, True),
    "1x1conv": (lambda x: randomize(Invertible1x1Conv(3), 0.2), (2, 3, 2, 2), None, True),
    "1x1conv-lu": (lambda x: randomize(Invertible1x1Conv(3, lu=True), 0.2), (2, 3, 2, 2), None, True),
    "permute": (lambda x: Permute(torch.tensor([2, 0, 3, 1])), (3, 4), None, True),
    "coupling-affine": (lambda x: randomize(vector_coupling(4, hidden=8, parity=1)), (3, 4), None, True),
    "coupling-additive": (
        lambda x: randomize(vector_coupling(4, hidden=8, affine=False)),
        (3, 4),
        None,
        True,
    ),
    "coupling-context": (
        lambda x: randomize(vector_coupling(3, hidden=8, context_features=2)),
        (3, 3),
        (3, 2),
        True,
    ),
    "coupling-image": (lambda x: randomize(image_coupling(2, hidden=4)), (2, 2, 4, 4), None, True),
    "coupling-checker": (
        lambda x: randomize(image_coupling(1, hidden=4, mask="checkerboard", parity=1)),
        (2, 1, 4, 4),
        None,
        True,
    ),
    "coupling-image-context": (
        lambda x: randomize(image_coupling(2, hidden=4, context_channels=1)),
        (2, 2, 2, 2),
        (2, 1, 2, 2),
        True,
    ),
    "squeeze": (lambda x: Squeeze(), (2, 1, 4, 4), None, True),
    "split": (lambda x: randomize(Split(4, image_coupling(2, hidden=4))), (2, 4, 2, 2), None, True),
    "glow": (lambda x: randomize(glow(1, levels=2, steps=1, hidden=4), 0.1), (2, 1, 4, 4), None, True),
    "maf": (lambda x: randomize(MAF(4, hidden=8)), (3, 4), None, True),
    "maf-context": (lambda x: randomize(MAF(3, hidden=8, context_features=2)), (3, 3), (3, 2), True),
    "iaf": (lambda x: randomize(IAF(4, hidden=8, order=torch.tensor([3, 1, 4, 2]))), (3, 4), None, True),
    "inverse-maf": (lambda x: Inverse(randomize(MAF(3, hidden=8))), (3, 3), None, True),
    # bound 1.5: some entries of randn fall in the identity tails, most inside the spline
    "nsf": (lambda x: randomize(NSF(4, hidden=8, bins=5, bound=1.5), 0.5), (3, 4), None, True),
    "nsf-context": (
        lambda x: randomize(NSF(3, hidden=8, bins=4, bound=1.5, context_features=2), 0.5),
        (3, 3),
        (3, 2),
        True,
    ),
    "chain": (
        lambda x: Chain(
            [randomize(MAF(3, hidden=8)), Permute.reverse(3), randomize(vector_coupling(3, hidden=8))]
        ),
        (3, 3),
        None,
        True,
    ),
    "iresnet": (lambda x: _iresnet(), (3, 3), None, False),
}


def _make(name, dtype=torch.float32):
    torch.manual_seed(0)
    factory, shape, context_shape, differentiable_inverse = CASES[name]
    x = torch.randn(shape)
    layer = factory(x)
    context = None if context_shape is None else torch.randn(context_shape).to(dtype)
    return layer.to(dtype), x.to(dtype), context, differentiable_inverse


@pytest.mark.parametrize("name", CASES)
def test_round_trip_and_log_dets_cancel(name):
    layer, x, context, _ = _make(name)
    z, logdet = layer(x, context)
    x_back, inv_logdet = layer.inverse(z, context)
    assert z.numel() == x.numel() and x_back.shape == x.shape
    assert torch.allclose(x_back, x, atol=1e-5)
    assert logdet.shape == inv_logdet.shape == (x.shape[0],)
    assert logdet.dtype == x.dtype and logdet.device == x.device
    assert torch.allclose(logdet + inv_logdet, torch.zeros_like(logdet), atol=1e-5)


def _jacobian_logdets(fn, x, context):
    """log|det| of the autograd Jacobian of one sample at a time."""
    out = []
    for i in range(x.shape[0]):
        ctx = None if context is None else context[i : i + 1]

        def flat(v, i=i, ctx=ctx):
            return fn(v.view(1, *x.shape[1:]), ctx)[0].flatten()

        jac = torch.autograd.functional.jacobian(flat, x[i].flatten())
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


@pytest.mark.parametrize("name", CASES)
def test_log_det_matches_autograd_jacobian(name):
    layer, x, context, differentiable_inverse = _make(name, torch.float64)
    z, logdet = layer(x, context)
    assert torch.allclose(logdet, _jacobian_logdets(layer, x, context), atol=1e-4)
    if differentiable_inverse:
        _, inv_logdet = layer.inverse(z, context)
        assert torch.allclose(inv_logdet, _jacobian_logdets(layer.inverse, z, context), atol=1e-4)


@pytest.mark.parametrize("name", ["maf-context", "coupling-context", "nsf-context"])
def test_context_changes_the_map(name):
    layer, x, context, _ = _make(name)
    assert not torch.allclose(layer(x, context)[0], layer(x, context + 1)[0])


def test_chain_rejects_non_bijections():
    with pytest.raises(TypeError, match="Bijection"):
        Chain([torch.nn.Linear(2, 2)])


def test_permute_rejects_non_permutations():
    with pytest.raises(ValueError, match="permutation"):
        Permute(torch.tensor([0, 0, 1]))


def test_wrong_channel_count_is_named():
    with pytest.raises(ValueError, match=r"\[B, 3"):
        ActNorm(3)(torch.randn(2, 4))
    with pytest.raises(ValueError, match="at least 2 channels"):
        image_coupling(1, hidden=4)(torch.randn(2, 1, 4, 4))


# Layers with data-dependent Python control flow (ActNorm's init flag, the fixed-point stopping rule)
# cannot run on the meta device; every other layer must allocate its log-det where x lives.
META = [name for name in CASES if name not in {"actnorm-vector", "actnorm-image", "glow", "iresnet"}]


@pytest.mark.parametrize("name", META)
def test_log_dets_are_allocated_on_the_input_device(name):
    layer, x, context, _ = _make(name)
    layer, x = layer.to("meta"), x.to("meta")
    context = None if context is None else context.to("meta")
    z, logdet = layer(x, context)
    _, inv_logdet = layer.inverse(z, context)
    assert z.device.type == logdet.device.type == inv_logdet.device.type == "meta"
