"""Flow layers under the trainer's EMA: every buffer must be a float tensor that weight averaging can take."""

import pytest
import torch

from genlab.core.nflows import MAF, ActNorm, Flow, Invertible1x1Conv, Permute, StandardNormal
from genlab.core.trainer import ema_model


def test_flows_with_actnorm_permutations_and_made_are_averaged_by_the_trainers_ema():
    torch.manual_seed(0)
    flow = Flow(
        [ActNorm(3), MAF(3, 16), Permute(torch.tensor([2, 0, 1])), Invertible1x1Conv(3, lu=True)],
        StandardNormal(3),
    )
    assert all(b.is_floating_point() for b in flow.buffers())
    ema = ema_model(flow, 0.9)
    opt = torch.optim.SGD(flow.parameters(), lr=1e-2)
    x = 2 * torch.randn(64, 3) + 1
    for _ in range(3):
        opt.zero_grad()
        flow.forward_kl(x).backward()
        opt.step()
        ema.update_parameters(flow)
    actnorm = ema.module.transform.layers[0]
    assert actnorm.initialized.item() == 1.0  # the averaged copy is not re-initialised on its first call
    before = actnorm.log_scale.clone()
    ema.module.log_prob(x[:5] + 10)
    assert torch.equal(actnorm.log_scale, before)
    assert torch.allclose(ema.module.log_prob(x), flow.log_prob(x), atol=0.5)


def test_refresh_norms_restores_the_spectral_norm_after_averaging():
    from genlab.core.nflows import ResidualBlock

    torch.manual_seed(0)
    block = ResidualBlock(2, 16, 2).eval()
    linear = block.net[0]
    with torch.no_grad():  # what averaging does: shrunken, stale singular-vector estimates
        linear.parametrizations.weight[0]._u.mul_(0.3)
        linear.parametrizations.weight[0]._v.mul_(0.3)
    assert torch.linalg.matrix_norm(linear.weight, 2) > 2
    block.refresh_norms()
    assert torch.linalg.matrix_norm(linear.weight, 2).item() == pytest.approx(1.0, abs=1e-3)
    assert not linear.parametrizations.weight[0].training  # the mode is restored
