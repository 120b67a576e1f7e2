import pytest
import torch
from torch import nn

from genlab.core.diffusion import Denoiser, get_schedule, sds_grad, sds_loss

F64 = torch.float64


class EpsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5, dtype=F64))

    def forward(self, x, t, y=None):
        shift = 0.0 if y is None else y[:, None].to(x) * 0.1
        return self.w * x + shift


def test_sds_gradient_is_weighted_noise_residual():
    sch = get_schedule("cosine")
    net = EpsNet()
    den = Denoiser(net, sch, "eps")
    theta = torch.randn(4, 3, dtype=F64, requires_grad=True)
    x = 2 * theta  # any differentiable generator
    t = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=F64)
    eps = torch.randn(4, 3, dtype=F64)
    grad = sds_grad(den, x, t, noise=eps)
    a, s = (c[:, None] for c in sch.alpha_sigma(t))
    expected = s**2 * (net(a * x.detach() + s * eps, t) - eps)
    torch.testing.assert_close(grad, expected)
    assert not grad.requires_grad
    sds_loss(x, grad).backward()
    torch.testing.assert_close(theta.grad, 2 * expected)  # the surrogate's gradient is exactly grad
    assert net.w.grad is None  # the denoiser's Jacobian is skipped


def test_sds_with_guidance_and_weighting():
    sch = get_schedule("cosine")
    den = Denoiser(EpsNet(), sch, "eps")
    x, t, eps = torch.randn(4, 3, dtype=F64), torch.full((4,), 0.5, dtype=F64), torch.randn(4, 3, dtype=F64)
    y = torch.tensor([1, 2, 3, 4])
    w = 7.0
    guided = sds_grad(
        den, x, t, cond={"y": y}, weighting="uniform", guidance_scale=w, null={"y": 0}, noise=eps
    )
    x_t = sch.add_noise(x, eps, t)
    c, u = den.eps(x_t, t, y=y), den.eps(x_t, t, y=torch.zeros_like(y))
    torch.testing.assert_close(guided, (1 + w) * c - w * u - eps)
    custom = sds_grad(den, x, t, weighting=lambda a, s: a, noise=eps)
    torch.testing.assert_close(custom, sch.alpha_sigma(t)[0][:, None] * (den.eps(x_t, t) - eps))
    with pytest.raises(ValueError, match="unknown SDS weighting"):
        sds_grad(den, x, t, weighting="sigma")
