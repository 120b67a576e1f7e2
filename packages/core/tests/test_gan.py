"""GAN objectives against hand computations."""

import math

import pytest
import torch
import torch.nn.functional as F

from genlab.core import gan


def sp(v):
    return math.log1p(math.exp(v))


REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, 1.5])


def test_nonsaturating_losses_by_hand():
    d = (sp(-2.0) + sp(1.0)) / 2 + (sp(0.5) + sp(1.5)) / 2
    assert gan.discriminator_loss("nonsaturating", REAL, FAKE).item() == pytest.approx(d)
    assert gan.generator_loss("nonsaturating", FAKE).item() == pytest.approx((sp(-0.5) + sp(-1.5)) / 2)


def test_hinge_losses_by_hand():
    d = (max(0, 1 - 2.0) + max(0, 1 + 1.0)) / 2 + (max(0, 1 + 0.5) + max(0, 1 + 1.5)) / 2
    assert gan.discriminator_loss("hinge", REAL, FAKE).item() == pytest.approx(d)
    assert gan.generator_loss("hinge", FAKE).item() == pytest.approx(-1.0)


def test_rpgan_pairs_reals_with_fakes_and_swaps_roles_for_g():
    d = (sp(-(2.0 - 0.5)) + sp(-(-1.0 - 1.5))) / 2
    assert gan.discriminator_loss("rpgan", REAL, FAKE).item() == pytest.approx(d)
    g = (sp(-(0.5 - 2.0)) + sp(-(1.5 + 1.0))) / 2
    assert gan.generator_loss("rpgan", FAKE, REAL).item() == pytest.approx(g)
    # relativistic: adding the same constant to every logit changes nothing
    assert gan.rpgan_d(REAL + 7, FAKE + 7).item() == pytest.approx(d)
    with pytest.raises(ValueError, match="paired real"):
        gan.generator_loss("rpgan", FAKE)
    with pytest.raises(ValueError, match="share a shape"):
        gan.rpgan_d(REAL, FAKE[:1])


def test_r1_and_r2_match_the_hand_gradient():
    torch.manual_seed(0)
    a = torch.randn(3, 2, 2)

    def disc(x):  # D(x) = sum a x^2 + sum x, so grad_x D = 2 a x + 1
        return (a * x**2).flatten(1).sum(1) + x.flatten(1).sum(1)

    x = torch.randn(4, 3, 2, 2, requires_grad=True)
    expected = 10.0 / 2 * ((2 * a * x + 1) ** 2).flatten(1).sum(1).mean()
    r1 = gan.r1_penalty(x, disc(x), gamma=10.0)
    assert r1.item() == pytest.approx(expected.item(), rel=1e-6)
    assert gan.r2_penalty(x, disc(x), gamma=10.0).item() == pytest.approx(expected.item(), rel=1e-6)
    # create_graph: the penalty itself has a gradient for D's parameters
    w = torch.tensor(2.0, requires_grad=True)
    y = torch.randn(5, 3, requires_grad=True)
    penalty = gan.r1_penalty(y, w * y.sum(1), gamma=2.0)  # = w^2 * 3
    (grad,) = torch.autograd.grad(penalty, w)
    assert penalty.item() == pytest.approx(12.0) and grad.item() == pytest.approx(12.0)


def test_gradient_penalty_needs_inputs_that_track_gradients():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match="requires_grad"):
        gan.r1_penalty(x, x.sum(1))


def test_matching_aware_loss_counts_mismatched_pairs_as_fake():
    mismatched, fake_mismatched = torch.tensor([0.3, -0.7]), torch.tensor([1.0, 0.0])
    base = gan.nonsaturating_d(REAL, FAKE)
    loss = gan.matching_aware_d(REAL, FAKE, mismatched)
    assert loss.item() == pytest.approx(base.item() + F.softplus(mismatched).mean().item())
    both = gan.matching_aware_d(REAL, FAKE, mismatched, fake_mismatched)
    assert both.item() == pytest.approx(loss.item() + F.softplus(fake_mismatched).mean().item())
    hinge = gan.matching_aware_d(REAL, FAKE, mismatched, kind="hinge")
    assert hinge.item() == pytest.approx(
        gan.hinge_d(REAL, FAKE).item() + F.relu(1 + mismatched).mean().item()
    )
    with pytest.raises(ValueError, match="unknown matching-aware loss"):
        gan.matching_aware_d(REAL, FAKE, mismatched, kind="rpgan")


def test_mismatch_gives_every_row_another_rows_condition():
    c = torch.arange(5)
    wrong = gan.mismatch(c)
    assert (wrong != c).all() and sorted(wrong.tolist()) == c.tolist()
    with pytest.raises(ValueError, match="at least 2"):
        gan.mismatch(c[:1])


def test_unknown_loss_names_suggest_the_closest():
    with pytest.raises(ValueError, match="did you mean 'hinge'"):
        gan.discriminator_loss("hinje", REAL, FAKE)
