import itertools

import pytest
import torch
from torch import nn

from genlab.core.diffusion import (
    KINDS,
    SCHEDULES,
    Denoiser,
    EDMPrecond,
    convert,
    edm_scalings,
    from_x0_eps,
    get_schedule,
    resolution_shift,
)

SCHEDS = [get_schedule(n) for n in SCHEDULES] + [resolution_shift(get_schedule("cosine"), 128)]
T_SHAPES = [(6,), (6, 4)]


def _case(sch, t_shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = 0.05 + 0.9 * torch.rand(t_shape, generator=g, dtype=torch.float64)
    x0 = torch.randn(*t_shape, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(*t_shape, 3, generator=g, dtype=torch.float64)
    return x0, eps, sch.add_noise(x0, eps, t), t


def _definition(kind, x0, eps, t, sch):
    a, s = (c[..., None] for c in sch.alpha_sigma(t))
    da, ds = (c[..., None] for c in sch.d_alpha_sigma(t))
    return {"eps": eps, "x0": x0, "v": a * eps - s * x0, "score": -eps / s, "velocity": da * x0 + ds * eps}[
        kind
    ]


@pytest.mark.parametrize("t_shape", T_SHAPES)
@pytest.mark.parametrize("sch", SCHEDS, ids=repr)
def test_conversions_match_definitions_and_round_trip(sch, t_shape):
    x0, eps, x, t = _case(sch, t_shape)
    for src, dst in itertools.product(KINDS, KINDS):
        pred = _definition(src, x0, eps, t, sch)
        out = convert(pred, src, dst, x, t, sch)
        torch.testing.assert_close(out, _definition(dst, x0, eps, t, sch), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(convert(out, dst, src, x, t, sch), pred, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sch", SCHEDS, ids=repr)
def test_velocity_is_the_time_derivative_of_the_path(sch):
    x0, eps, _, t = _case(sch, (6,))
    h = 1e-6
    fd = (sch.add_noise(x0, eps, t + h) - sch.add_noise(x0, eps, t - h)) / (2 * h)
    torch.testing.assert_close(from_x0_eps(x0, eps, "velocity", sch.add_noise(x0, eps, t), t, sch), fd)


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.7, dtype=torch.float64))

    def forward(self, x, t):
        return self.w * x * (1 + t[:, None])


def test_denoiser_views_agree():
    sch = get_schedule("cosine")
    den = Denoiser(Linear(), sch, "v")
    _, _, x, t = _case(sch, (6,))
    x0, eps = den.x0_eps(x, t)
    torch.testing.assert_close(den.x0(x, t), x0)
    torch.testing.assert_close(den.eps(x, t), eps)
    torch.testing.assert_close(den.v(x, t), Linear()(x, t))
    torch.testing.assert_close(den.score(x, t), convert(eps, "eps", "score", x, t, sch))
    torch.testing.assert_close(den.velocity(x, t), from_x0_eps(x0, eps, "velocity", x, t, sch))


def test_edm_scalings_give_unit_variance_input_and_target():
    """Karras et al.: Var(c_in x) = 1 and Var((x0 - c_skip x) / c_out) = 1 when Var(x0) = sd^2."""
    sd = 0.5
    for sch in [get_schedule("edm"), get_schedule("cosine")]:
        a, s = sch.alpha_sigma(torch.linspace(0.05, 0.95, 19, dtype=torch.float64))
        c_skip, c_out, c_in, _ = edm_scalings(a, s, sd)
        torch.testing.assert_close(c_in**2 * (a**2 * sd**2 + s**2), torch.ones_like(a))
        var_target = ((1 - c_skip * a) ** 2 * sd**2 + c_skip**2 * s**2) / c_out**2
        torch.testing.assert_close(var_target, torch.ones_like(a))


def test_edm_precond_boundary_returns_x():
    """At sigma = sigma_min the preconditioned model is the identity, whatever the net."""
    sch = get_schedule("edm")
    net = lambda x, c_noise: torch.full_like(x, 123.0)  # noqa: E731
    x = torch.randn(5, 3, dtype=torch.float64)
    t0 = torch.zeros(5, dtype=torch.float64)
    assert torch.equal(EDMPrecond(net, sch)(x, t0), x)
    t = torch.full((5,), 0.4, dtype=torch.float64)
    s_min = float(sch.alpha_sigma(t)[1][0])
    torch.testing.assert_close(EDMPrecond(net, sch, sigma_min=s_min)(x, t), x)


def test_bad_inputs_give_clear_errors():
    sch = get_schedule("cosine")
    den = Denoiser(Linear(), sch, "eps")
    x, t = torch.randn(6, 3, dtype=torch.float64), torch.rand(6, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown prediction kind 'epsilon'.*'eps'"):
        Denoiser(Linear(), sch, "epsilon")
    with pytest.raises(ValueError, match="unknown prediction kind"):
        den.predict(x, t, "noise")
    with pytest.raises(ValueError, match="not a prefix"):
        den.x0(x, t[:5])
    with pytest.raises(ValueError, match="non-finite"):
        den.x0(x.index_fill(0, torch.tensor([2]), float("nan")), t)
    bad = Denoiser(lambda x, t: x[:, :2], sch, "eps")
    with pytest.raises(ValueError, match="model returned shape"):
        bad.x0(x, t)
