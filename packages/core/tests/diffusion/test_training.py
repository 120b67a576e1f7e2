import pytest
import torch
from torch import nn

from genlab.core.diffusion import (
    Denoiser,
    convert,
    diffusion_loss,
    drop_condition,
    from_x0_eps,
    get_schedule,
    loss_weight,
    sample_t,
)


class Affine(nn.Module):
    """A per-element model out = w x + b t, enough to check losses and gradients."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.3, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(-0.2, dtype=torch.float64))

    def forward(self, x, t):
        return self.w * x + self.b * t.reshape(*t.shape, *[1] * (x.ndim - t.ndim))


def _data(shape=(8, 5), t_shape=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(*shape, generator=g, dtype=torch.float64)
    eps = torch.randn(*shape, generator=g, dtype=torch.float64)
    t = 0.05 + 0.9 * torch.rand(t_shape or shape[:1], generator=g, dtype=torch.float64)
    return x0, eps, t


@pytest.mark.parametrize("kind", ["eps", "x0", "v", "velocity"])
def test_loss_is_the_weighted_mse_by_hand(kind):
    sch = get_schedule("cosine")
    den = Denoiser(Affine(), sch, kind)
    x0, eps, t = _data()
    x_t = sch.add_noise(x0, eps, t)
    out = den.raw(x_t, t)
    eps_hat = convert(out, kind, "eps", x_t, t, sch)
    x0_hat = convert(out, kind, "x0", x_t, t, sch)
    a, s = (c[:, None] for c in sch.alpha_sigma(t))
    snr = (a / s) ** 2
    cases = {
        "uniform": ((eps_hat - eps) ** 2).mean(),
        "x0": ((x0_hat - x0) ** 2).mean(),
        "v": ((convert(out, kind, "v", x_t, t, sch) - from_x0_eps(x0, eps, "v", x_t, t, sch)) ** 2).mean(),
        "min_snr": (torch.clamp(snr, max=5.0) * (x0_hat - x0) ** 2).mean(),
        "edm": (((s / a) ** 2 + 0.25) / (s / a * 0.5) ** 2 * (x0_hat - x0) ** 2).mean(),
    }
    for weighting, expected in cases.items():
        loss, logs = diffusion_loss(den, x0, t=t, noise=eps, weighting=weighting)
        torch.testing.assert_close(loss, expected, msg=weighting)
        assert logs["loss"] == pytest.approx(float(expected.detach()))


def test_per_frame_t_and_reduction_none():
    sch = get_schedule("rectified_flow")
    seen = {}

    def model(x, t):
        seen["t"] = t.shape
        return torch.zeros_like(x)

    x0, eps, t = _data((4, 6, 3), t_shape=(4, 6))
    loss, _ = diffusion_loss(Denoiser(model, sch, "velocity"), x0, t=t, noise=eps, reduction="none")
    assert seen["t"] == (4, 6) and loss.shape == (4, 6)
    torch.testing.assert_close(loss, ((eps - x0) ** 2).mean(-1))  # rectified-flow velocity target
    loss, _ = diffusion_loss(Denoiser(model, sch, "velocity"), x0, t_shape=(4, 6))
    assert seen["t"] == (4, 6)


def test_mask_gives_exactly_zero_gradient_to_masked_elements():
    sch = get_schedule("cosine")
    x0, eps, t = _data((4, 6, 3), t_shape=(4,))
    x0.requires_grad_(True)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[:, 4:] = False
    loss, _ = diffusion_loss(Denoiser(Affine(), sch, "eps"), x0, t=t, noise=eps, mask=mask)
    loss.backward()
    assert (x0.grad[:, 4:] == 0).all() and (x0.grad[:, :4] != 0).all()


def test_loss_weight_of_a_kind_in_its_own_kind_is_one():
    sch, t = get_schedule("linear"), torch.rand(7, dtype=torch.float64)
    for kind in ["eps", "x0", "v", "velocity"]:
        assert torch.equal(loss_weight(kind, t, sch, kind), torch.ones_like(t))


def test_t_samplers():
    g = torch.Generator().manual_seed(0)
    sch = get_schedule("edm")
    t = sample_t("stratified", (16,), generator=g)
    assert torch.equal(torch.sort((t * 16).floor()).values, torch.arange(16.0))
    for name in ["uniform", "logit_normal", "log_normal"]:
        t = sample_t(name, (4000, 3), schedule=sch, generator=g, dtype=torch.float64)
        assert t.shape == (4000, 3) and (t >= 0).all() and (t <= 1).all()
    assert sample_t("logit_normal", (20000,), generator=g).median() == pytest.approx(0.5, abs=0.02)
    log_sigma = sch.alpha_sigma(
        sample_t("log_normal", (20000,), schedule=sch, generator=g, dtype=torch.float64)
    )[1].log()
    assert float(log_sigma.mean()) == pytest.approx(-1.2, abs=0.05)
    assert float(log_sigma.std()) == pytest.approx(1.2, abs=0.05)
    with pytest.raises(ValueError, match="needs the schedule"):
        sample_t("log_normal", (3,))
    with pytest.raises(ValueError, match="unknown t-sampler 'unifrom'"):
        sample_t("unifrom", (3,))


def test_drop_condition():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (10000,), generator=g)
    out = drop_condition(y, 0.2, 10, generator=g)
    assert ((out == 10).float().mean() - 0.2).abs() < 0.02
    assert torch.equal(out[out != 10], y[out != 10])
    emb = torch.randn(100, 4, generator=g)
    out = drop_condition(emb, 0.5, 0.0, generator=g)
    assert ((out == 0).all(1) | (out == emb).all(1)).all()


def test_bad_inputs():
    den = Denoiser(Affine(), get_schedule("cosine"), "eps")
    x0, eps, t = _data()
    with pytest.raises(ValueError, match="unknown loss weighting 'min-snr'"):
        diffusion_loss(den, x0, weighting="min-snr")
    with pytest.raises(ValueError, match="not a prefix"):
        diffusion_loss(den, x0, t=t[:3])
    with pytest.raises(ValueError, match="non-finite"):
        diffusion_loss(den, x0 / 0 * 0)
    with pytest.raises(ValueError, match="noise of shape"):
        diffusion_loss(den, x0, noise=eps[:, :2])
