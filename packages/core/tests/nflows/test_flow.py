"""Flow: a normalised density, consistent sampling, and gradients through both KL objectives."""

import pytest
import torch

from genlab.core.nflows import (
    MAF,
    ActNorm,
    Flow,
    Invertible1x1Conv,
    Planar,
    Radial,
    StandardNormal,
    log_target,
    vector_coupling,
)


def randomize(module, scale):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))
    return module


def small_flow(context_features=0):
    torch.manual_seed(0)
    actnorm = ActNorm(2)
    actnorm(torch.randn(64, 2) * 1.5 + 0.5)
    layers = [
        actnorm,
        randomize(vector_coupling(2, hidden=16, context_features=context_features), 0.3),
        randomize(Invertible1x1Conv(2, lu=True), 0.3),
        randomize(vector_coupling(2, hidden=16, parity=1, context_features=context_features), 0.3),
        randomize(MAF(2, hidden=16, context_features=context_features), 0.3),
    ]
    return Flow(layers, StandardNormal(2)).double()


def _grid(lim=12.0, n=600):
    s = torch.linspace(-lim, lim, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(s, s, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], 1), (s[1] - s[0]) ** 2


def test_log_prob_integrates_to_one_on_a_grid():
    flow = small_flow()
    points, area = _grid()
    with torch.no_grad():
        mass = flow.log_prob(points).exp().sum() * area
    assert abs(mass.item() - 1) < 1e-2


def test_conditional_log_prob_integrates_to_one_for_each_context():
    flow = small_flow(context_features=1)
    points, area = _grid()
    masses = []
    for c in [-1.0, 1.5]:
        context = torch.full((len(points), 1), c, dtype=torch.float64)
        with torch.no_grad():
            masses.append((flow.log_prob(points, context).exp().sum() * area).item())
    assert masses == pytest.approx([1.0, 1.0], abs=1e-2)
    x = torch.randn(3, 2, dtype=torch.float64)
    assert not torch.allclose(
        flow.log_prob(x, torch.zeros(3, 1).double()), flow.log_prob(x, torch.ones(3, 1).double())
    )


def test_rsample_log_prob_matches_log_prob_of_the_samples():
    flow = small_flow()
    x, log_q = flow.rsample_and_log_prob(16)
    assert x.shape == (16, 2) and log_q.shape == (16,)
    assert torch.allclose(log_q, flow.log_prob(x), atol=1e-8)
    assert flow.sample(5).shape == (5, 2) and not flow.sample(5).requires_grad


def test_forward_kl_is_the_mean_negative_log_likelihood_and_trains():
    flow = small_flow()
    x = torch.randn(32, 2, dtype=torch.float64)
    loss = flow.forward_kl(x)
    assert torch.allclose(loss, -flow.log_prob(x).mean()) and torch.equal(flow(x), flow.log_prob(x))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in flow.parameters() if p.grad is not None)


def test_reverse_kl_gradient_flows_through_planar_and_radial_layers():
    torch.manual_seed(0)
    flow = Flow([Planar(2), randomize(Radial(2), 0.5), Planar(2), Planar(2)], StandardNormal(2))
    target = log_target("U1")
    loss = flow.reverse_kl(target, 128)
    loss.backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    # and a few steps of reverse-KL descent bring q closer to the target
    opt = torch.optim.Adam(flow.parameters(), lr=5e-2)
    torch.manual_seed(1)
    before = flow.reverse_kl(target, 4096).item()
    for _ in range(60):
        opt.zero_grad()
        flow.reverse_kl(target, 256).backward()
        opt.step()
    torch.manual_seed(1)
    assert flow.reverse_kl(target, 4096).item() < before - 0.5


def test_base_may_be_a_plain_distribution():
    base = torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))
    flow = Flow([vector_coupling(2, hidden=4)], base)
    x = torch.randn(5, 2)
    assert torch.allclose(flow.log_prob(x), base.log_prob(flow.transform(x)[0]) + flow.transform(x)[1])


def test_bad_inputs_are_named():
    flow = small_flow()
    with pytest.raises(ValueError, match="non-finite"):
        flow.log_prob(torch.tensor([[float("nan"), 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="log_target must return shape"):
        flow.reverse_kl(lambda x: x, 4)
    conditional = small_flow(context_features=1)
    with pytest.raises(ValueError, match="context holds 2 rows"):
        conditional.sample(3, torch.zeros(2, 1, dtype=torch.float64))


def test_a_diverged_flow_gives_a_non_finite_log_prob_not_a_support_error():
    flow = Flow([MAF(2, hidden=8)], StandardNormal(2))
    with torch.no_grad():
        flow.transform.layers[0].made.out.bias.fill_(-1e4)  # exp(-alpha) overflows
    assert not torch.isfinite(flow.log_prob(torch.ones(3, 2))).all()
