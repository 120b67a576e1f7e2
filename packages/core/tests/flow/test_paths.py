import pytest
import torch

from genlab.core.diffusion import convert
from genlab.core.flow import PATHS, cfm_loss, get_path, path_sample, sb_cfm_loss
from genlab.core.flow.couplings import exact_ot

F64 = torch.float64


@pytest.mark.parametrize("name", sorted(PATHS))
def test_path_velocity_is_the_time_derivative(name):
    path = get_path(name)
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(6, 3, generator=g, dtype=F64), torch.randn(6, 3, generator=g, dtype=F64)
    t = torch.rand(6, generator=g, dtype=F64) * 0.9 + 0.05
    h = 1e-6
    _, u = path_sample(path, x0, x1, t)
    fd = (path_sample(path, x0, x1, t + h)[0] - path_sample(path, x0, x1, t - h)[0]) / (2 * h)
    torch.testing.assert_close(u, fd, rtol=1e-6, atol=1e-6)
    start, _ = path_sample(path, x0, x1, torch.zeros(6, dtype=F64))
    torch.testing.assert_close(start, x0, rtol=0, atol=1e-3)  # t = 0 is the data (VP paths: alpha(0) ~ 1)


@pytest.mark.parametrize("name", ["linear", "condot", "trig"])
def test_velocity_converts_to_x0_eps_and_score_and_back(name):
    # with Gaussian x1, flow matching's velocity is the diffusion velocity kind on the same schedule
    path = get_path(name)
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(5, 2, generator=g, dtype=F64), torch.randn(5, 2, generator=g, dtype=F64)
    t = torch.rand(5, 2, generator=g, dtype=F64)[:, 0] * 0.9 + 0.05
    xt, u = path_sample(path, x0, eps, t)
    torch.testing.assert_close(convert(u, "velocity", "x0", xt, t, path), x0)
    torch.testing.assert_close(convert(u, "velocity", "eps", xt, t, path), eps)
    score = convert(u, "velocity", "score", xt, t, path)
    torch.testing.assert_close(convert(score, "score", "velocity", xt, t, path), u)


def test_cfm_loss_with_a_coupling_and_bad_input():
    torch.manual_seed(0)
    model = lambda x, t: torch.zeros_like(x)  # noqa: E731
    x0 = torch.randn(64, 2) + 5
    independent = cfm_loss(model, x0)
    torch.manual_seed(0)
    coupled = cfm_loss(model, x0, coupling=exact_ot)
    assert coupled.item() < independent.item()  # OT pairs are closer: smaller conditional velocities
    with pytest.raises(ValueError, match="NaN"):
        cfm_loss(model, torch.full((4, 2), float("nan")))
    with pytest.raises(ValueError, match="did you mean 'trig'"):
        get_path("trigg")


def test_schrodinger_bridge_cfm_tends_to_ot_cfm_as_sigma_vanishes():
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731  (the loss is then E |u_t|^2)
    x0 = torch.randn(256, 2, generator=torch.Generator().manual_seed(0)) + 1
    x1 = torch.randn(256, 2, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    ot = cfm_loss(zero, x0, x1, coupling=exact_ot).item()
    torch.manual_seed(0)
    bridge = sb_cfm_loss(zero, x0, x1, sigma=0.05).item()
    torch.manual_seed(0)
    wide = sb_cfm_loss(zero, x0, x1, sigma=1.0).item()
    assert bridge == pytest.approx(ot, rel=0.02)  # same pairs, (nearly) no bridge noise
    assert wide > bridge  # the bridge's noise adds conditional velocity


def test_sde_sampling_needs_gamma():
    from genlab.core.flow import Interpolant, sample_sde

    with pytest.raises(ValueError, match="gamma > 0"):
        sample_sde(lambda x, t: x, lambda x, t: x, Interpolant("linear"), torch.zeros(3, 2))


def test_sample_flow_passes_cond_as_a_dict():
    """A point-mass velocity field per label: one Euler step lands every sample on its label's point."""
    from genlab.core.flow import sample_flow

    points = torch.tensor([[1.0, 2.0], [-3.0, 0.5]], dtype=F64)

    def model(x, t, y):
        return x - points[y]  # the linear path's velocity x1 - x0 at x = x1 (t = 1)

    y = torch.tensor([0, 1, 1])
    out = sample_flow(model, torch.randn(3, 2, dtype=F64), steps=1, method="euler", cond={"y": y})
    torch.testing.assert_close(out, points[y])
