"""i-ResNet blocks: Lipschitz bound, geometric fixed-point inverse, power-series log-det."""

import pytest
import torch

from genlab.core.nflows import Flow, ResidualBlock, StandardNormal


def _settled(block, steps=50):
    """Run spectral_norm's power iteration until its estimate has caught up with the weights."""
    for _ in range(steps):
        block.g(torch.zeros(1, block.features, dtype=next(block.parameters()).dtype))
    return block


def _jacobian_norms(block, x):
    jac = torch.stack([torch.autograd.functional.jacobian(lambda v: block.g(v[None])[0], xi) for xi in x])
    return torch.linalg.matrix_norm(jac, ord=2)


def test_lipschitz_constant_stays_below_c_after_training_steps():
    torch.manual_seed(0)
    c = 0.7
    block = ResidualBlock(2, hidden=16, c=c)
    flow = Flow([block], StandardNormal(2))
    opt = torch.optim.Adam(flow.parameters(), lr=5e-2)
    data = torch.randn(128, 2) * torch.tensor([3.0, 0.3]) + 1
    for _ in range(3):
        opt.zero_grad()
        flow.forward_kl(data).backward()
        opt.step()
    block(data)  # one more training-mode pass updates the spectral-norm estimate
    block.eval()
    lipschitz = _jacobian_norms(block, 3 * torch.randn(256, 2)).max()
    assert 0.1 < lipschitz < c


def test_fixed_point_inverse_error_falls_geometrically():
    torch.manual_seed(0)
    c = 0.9
    block = _settled(ResidualBlock(3, hidden=16, c=c).double()).eval()
    x = torch.randn(8, 3, dtype=torch.float64)
    y, _ = block(x)
    errors = torch.stack([(block.fixed_point(y, k) - x).norm(dim=1) for k in range(1, 12)])
    assert (errors[1:] <= c * errors[:-1] + 1e-12).all()  # Banach: |x_k+1 - x*| <= Lip(g) |x_k - x*|
    assert (block.fixed_point(y, 200) - x).abs().max() < 1e-10


@pytest.fixture
def block64():
    torch.manual_seed(1)
    block = ResidualBlock(3, hidden=16, c=0.5, probes=None).double()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return _settled(block).eval()


def test_power_series_approaches_the_exact_log_det(block64):
    x = torch.randn(6, 3, dtype=torch.float64)
    block64.exact = True
    exact = block64(x)[1]
    block64.exact = False
    for terms in [1, 2, 4, 8, 16]:
        block64.terms = terms
        error = (block64(x)[1] - exact).abs().max()
        # |sum_{k>n} (-1)^(k+1) tr(J^k) / k| <= D c^(n+1) / ((n+1)(1-c))
        assert error <= 3 * 0.5 ** (terms + 1) / ((terms + 1) * 0.5) + 1e-9
    assert error < 1e-5


def test_hutchinson_estimate_is_unbiased_for_the_truncated_series(block64):
    x = torch.randn(1, 3, dtype=torch.float64)
    block64.terms = 4
    exact_traces = block64(x)[1]
    block64.probes = 1
    estimates = block64(x.expand(4000, 3))[1]  # one Gaussian probe per copy
    assert estimates.std() > 1e-3  # the estimator really is random
    assert (estimates.mean() - exact_traces).abs() < 5 * estimates.std() / 4000**0.5


def test_series_log_det_trains_the_weights():
    torch.manual_seed(0)
    block = ResidualBlock(2, hidden=8, c=0.9, terms=3)
    _, logdet = block(torch.randn(4, 2))
    logdet.sum().backward()
    weights = [p for name, p in block.named_parameters() if name.endswith("original")]
    assert len(weights) == 3
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights
    )


def test_c_must_make_the_block_contractive():
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        ResidualBlock(2, c=1.0)
