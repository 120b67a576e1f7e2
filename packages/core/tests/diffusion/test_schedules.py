import math

import pytest
import torch

from genlab.core.diffusion import (
    EDM,
    SCHEDULES,
    Affine,
    Cosine,
    LinearBeta,
    RectifiedFlow,
    Shifted,
    ZeroTerminalSNR,
    get_schedule,
    input_scaling,
    interpolated_shift,
    resolution_shift,
)

BUILTINS = [get_schedule(name) for name in SCHEDULES]
MODIFIED = [
    resolution_shift(Cosine(), 256),
    interpolated_shift(Cosine(), 128),
    input_scaling(get_schedule("sigmoid"), 0.5),
    Shifted(RectifiedFlow(), -2 * math.log(3.0)),
    ZeroTerminalSNR(get_schedule("linear")),
    LinearBeta(4.0, 4.0),  # constant beta: the Ornstein-Uhlenbeck process
    Affine(lambda t: torch.cos(t * math.pi / 2), lambda t: torch.sin(t * math.pi / 2)),
]
ALL = BUILTINS + MODIFIED
T = torch.linspace(0.02, 0.98, 49, dtype=torch.float64)


@pytest.mark.parametrize("sch", BUILTINS, ids=repr)
def test_time_direction_is_pinned(sch):
    """t = 0 returns the data exactly, t = 1 is noise, and the logSNR falls along t."""
    x0, eps = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    assert torch.equal(sch.add_noise(x0, eps, torch.zeros(4, dtype=torch.float64)), x0)
    a1, s1 = sch.alpha_sigma(torch.ones((), dtype=torch.float64))
    assert a1 / s1 < 0.02
    lam = sch.logsnr(T)
    assert (lam[1:] < lam[:-1]).all()


@pytest.mark.parametrize("sch", ALL, ids=repr)
def test_derivatives_match_finite_differences(sch):
    h = 1e-6
    da, ds = sch.d_alpha_sigma(T)
    (ap, sp), (am, sm) = sch.alpha_sigma(T + h), sch.alpha_sigma(T - h)
    torch.testing.assert_close(da, (ap - am) / (2 * h), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ds, (sp - sm) / (2 * h), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sch", ALL, ids=repr)
def test_t_from_logsnr_inverts_logsnr(sch):
    torch.testing.assert_close(sch.t_from_logsnr(sch.logsnr(T)), T, rtol=0, atol=1e-7)


@pytest.mark.parametrize("sch", [s for s in ALL if s.family == "vp"], ids=repr)
def test_vp_schedules_preserve_variance(sch):
    a, s = sch.alpha_sigma(T)
    torch.testing.assert_close(a**2 + s**2, torch.ones_like(T))


def test_shift_moves_logsnr_and_keeps_family():
    base = Cosine()
    sch = resolution_shift(base, 256, base_resolution=64)
    torch.testing.assert_close(sch.logsnr(T), base.logsnr(T) + 2 * math.log(64 / 256))
    # a shifted rectified flow is SD3's time shift t' = s t / (1 + (s - 1) t), still with alpha + sigma = 1
    rf = Shifted(RectifiedFlow(), -2 * math.log(3.0))
    a, s = rf.alpha_sigma(T)
    torch.testing.assert_close(s, 3 * T / (1 + 2 * T))
    torch.testing.assert_close(a + s, torch.ones_like(T))


def test_interpolated_shift_moves_from_high_to_low_resolution():
    base, sch = Cosine(logsnr_max=15.0), interpolated_shift(Cosine(logsnr_max=15.0), 128, low=32)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    expected = base.logsnr(t) + torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64) * 2 * math.log(32 / 128)
    torch.testing.assert_close(sch.logsnr(t), expected)


def test_input_scaling_equals_normalised_scaled_input():
    """Chen (2023): (alpha b x0 + sigma eps) / sqrt(alpha^2 b^2 + sigma^2) is the shifted schedule's x_t."""
    base, b = get_schedule("sigmoid"), 0.3
    x0, eps = torch.randn(49, 5, dtype=torch.float64), torch.randn(49, 5, dtype=torch.float64)
    a, s = (c[:, None] for c in base.alpha_sigma(T))
    by_hand = (a * b * x0 + s * eps) / (a**2 * b**2 + s**2).sqrt()
    torch.testing.assert_close(input_scaling(base, b).add_noise(x0, eps, T), by_hand)


def test_zero_terminal_snr():
    base = get_schedule("linear")
    sch = ZeroTerminalSNR(base)
    ends = torch.tensor([0.0, 1.0], dtype=torch.float64)
    a, _ = sch.alpha_sigma(ends)
    assert a[1] == 0 and sch.logsnr(ends)[1] == -math.inf
    torch.testing.assert_close(a[0], base.alpha_sigma(ends)[0][0])
    with pytest.raises(ValueError, match="variance-preserving"):
        ZeroTerminalSNR(RectifiedFlow())


def test_edm_schedule_is_karras_sigma():
    sch = EDM(sigma_max=80.0, rho=7.0, sigma_min=0.002)
    _, s = sch.alpha_sigma(torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(s, torch.tensor([0.002, 80.0], dtype=torch.float64))


def test_affine_fallbacks_agree_with_closed_forms():
    rf, generic = RectifiedFlow(), Affine(lambda t: 1 - t, lambda t: t)
    for mine, ref in zip(generic.d_alpha_sigma(T), rf.d_alpha_sigma(T)):
        torch.testing.assert_close(mine, ref)
    with pytest.raises(ValueError, match="no logSNR family"):
        Shifted(generic, 1.0)


def test_unknown_schedule_and_bad_t():
    with pytest.raises(ValueError, match="unknown schedule 'cosin'.*'cosine'"):
        get_schedule("cosin")
    with pytest.raises(ValueError, match="not a prefix"):
        Cosine().add_noise(torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(3))
