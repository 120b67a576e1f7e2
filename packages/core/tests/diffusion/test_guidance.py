import pytest
import torch
from torch import nn

from genlab.core.diffusion import (
    ClassifierFreeGuidance,
    Denoiser,
    GradientGuidance,
    get_schedule,
    sample_ddim,
)
from genlab.core.grids import time_grid

F64 = torch.float64


class Labelled(nn.Module):
    """eps = x * w[y] + t, label 3 = null; counts its forward calls."""

    def __init__(self):
        super().__init__()
        self.w = torch.tensor([0.5, -1.0, 2.0, 0.1], dtype=F64)
        self.calls = 0

    def forward(self, x, t, y):
        self.calls += 1
        return x * self.w[y][:, None] + t[:, None]


def _inputs(n=6):
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(n, 4, generator=g, dtype=F64),
        0.1 + 0.8 * torch.rand(n, generator=g, dtype=F64),
        torch.randint(0, 3, (n,), generator=g),
    )


@pytest.mark.parametrize("kind", ["eps", "v", "x0"])
def test_cfg_scale_zero_is_the_conditional_model(kind):
    sch = get_schedule("cosine")
    den = Denoiser(Labelled(), sch, kind)
    x, t, y = _inputs()
    cfg = ClassifierFreeGuidance(den, 0.0, {"y": 3})
    torch.testing.assert_close(cfg.x0(x, t, y=y), den.x0(x, t, y=y))


def test_cfg_at_zero_makes_one_pass_of_the_batch_and_the_same_samples():
    """w = 0 is the conditional model: one network call on B rows (not 2B), and DDIM's samples are
    those of the unguided conditional model, bit for bit."""
    sch, model = get_schedule("cosine"), Labelled()
    rows = []
    model.register_forward_pre_hook(lambda mod, args, kwargs: rows.append(len(args[0])), with_kwargs=True)
    den = Denoiser(model, sch, "eps")
    x1, grid, y = torch.randn(5, 4, dtype=F64), time_grid(6, (5,), dtype=F64), torch.tensor([0, 1, 2, 0, 1])
    guided = sample_ddim(ClassifierFreeGuidance(den, 0.0, {"y": 3}), x1, grid, cond={"y": y})
    assert rows == [5] * 6
    torch.testing.assert_close(guided, sample_ddim(den, x1, grid, cond={"y": y}), rtol=0, atol=0)
    with pytest.raises(ValueError, match="needs the conditions"):
        ClassifierFreeGuidance(den, 0.0, {"y": 3}).eps(x1, grid[0])


def test_cfg_combines_both_passes_in_one_batch():
    sch, model = get_schedule("cosine"), Labelled()
    den = Denoiser(model, sch, "v")
    x, t, y = _inputs()
    w = 2.5
    cfg = ClassifierFreeGuidance(den, w, {"y": 3})
    model.calls = 0
    guided = cfg.eps(x, t, y=y)
    assert model.calls == 1
    c, u = den.eps(x, t, y=y), den.eps(x, t, y=torch.full_like(y, 3))
    torch.testing.assert_close(guided, (1 + w) * c - w * u)  # Ho & Salimans, eq. 6


def test_cfg_interval_and_rescale():
    sch = get_schedule("cosine")
    den = Denoiser(Labelled(), sch, "eps")
    x, _, y = _inputs()
    t = torch.tensor([0.1, 0.2, 0.5, 0.6, 0.9, 0.95], dtype=F64)
    cfg = ClassifierFreeGuidance(den, 4.0, {"y": 3}, interval=(0.4, 0.7))
    out, c, plain = (
        cfg.eps(x, t, y=y),
        den.eps(x, t, y=y),
        ClassifierFreeGuidance(den, 4.0, {"y": 3}).eps(x, t, y=y),
    )
    inside = (t >= 0.4) & (t <= 0.7)
    torch.testing.assert_close(out[~inside], c[~inside])
    torch.testing.assert_close(out[inside], plain[inside])
    full = ClassifierFreeGuidance(den, 4.0, {"y": 3}, rescale=1.0).eps(x, t, y=y)
    torch.testing.assert_close(full.std(1), c.std(1))  # Lin et al.: std matched to the conditional
    torch.testing.assert_close(ClassifierFreeGuidance(den, 4.0, {"y": 3}, rescale=0.0).eps(x, t, y=y), plain)
    with pytest.raises(ValueError, match="needs the conditions"):
        cfg.eps(x, t)


def test_gradient_guidance_through_x_adds_to_the_score():
    sch = get_schedule("cosine")
    den = Denoiser(Labelled(), sch, "eps")
    x, t, y = _inputs()
    target = torch.ones(4, dtype=F64)

    def value(x, t, y):  # log N(x; target, I) up to a constant
        return -0.5 * ((x - target) ** 2).sum(-1)

    guided = GradientGuidance(den, value, scale=0.7, through="x")
    torch.testing.assert_close(guided.score(x, t, y=y), den.score(x, t, y=y) + 0.7 * (target - x))


def test_gradient_guidance_through_x0_and_monte_carlo():
    sch = get_schedule("cosine")
    den = Denoiser(Labelled(), sch, "v")
    x, t, y = _inputs()
    a = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=F64)

    def value(x0, t, y):
        return x0 @ a

    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(value(den.x0(xg, t, y=y), t, y).sum(), xg)
    expected = den.score(x, t, y=y) + 2.0 * grad
    torch.testing.assert_close(GradientGuidance(den, value, 2.0, through="x0").score(x, t, y=y), expected)
    mc = GradientGuidance(
        den, value, 2.0, through="x0", mc_samples=4, generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(mc.score(x, t, y=y), expected)  # linear f: every draw has the same gradient
    with pytest.raises(ValueError, match="through='x0'"):
        GradientGuidance(den, value, mc_samples=2)
    with pytest.raises(ValueError, match="unknown gradient-guidance mode"):
        GradientGuidance(den, value, through="xt")


def test_guidance_works_inside_no_grad_samplers():
    from genlab.core.diffusion import sample_ddim

    sch = get_schedule("cosine")
    den = Denoiser(lambda x, t: torch.zeros_like(x), sch, "eps")
    guided = GradientGuidance(den, lambda x, t: -(x**2).sum(-1), 1.0)
    with torch.no_grad():
        out = sample_ddim(guided, torch.randn(5, 2, dtype=F64), time_grid(4, (5,), dtype=F64))
    assert torch.isfinite(out).all()
