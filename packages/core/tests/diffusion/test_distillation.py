import pytest
import torch
from torch import nn

from genlab.core.diffusion import (
    Denoiser,
    EDMPrecond,
    consistency_distillation_loss,
    consistency_training_loss,
    convert,
    ddim_step,
    ema_update_,
    get_schedule,
    progressive_distillation_target,
    sample_consistency,
    sample_prior,
)
from genlab.core.grids import karras_grid, time_grid

F64 = torch.float64


@pytest.mark.parametrize("name", ["cosine", "edm", "rectified_flow"])
def test_progressive_target_matches_two_teacher_steps(exact, name):
    """One student DDIM step with the target x0 lands where two teacher DDIM steps land."""
    sch = get_schedule(name)
    teacher = exact(sch)
    g = torch.Generator().manual_seed(0)
    x = sample_prior(sch, (16, 3, 2), generator=g, dtype=F64) * 0.5
    t = 0.3 + 0.6 * torch.rand(16, 3, generator=g, dtype=F64)
    s = t * torch.rand(16, 3, generator=g, dtype=F64)
    s[0] = 0.0  # down to the data
    two = ddim_step(teacher, ddim_step(teacher, x, t, (t + s) / 2)[0], (t + s) / 2, s)[0]
    x0 = progressive_distillation_target(teacher, x, t, s)
    student = Denoiser(lambda x_, t_: x0, sch, "x0")
    torch.testing.assert_close(ddim_step(student, x, t, s)[0], two)
    v = progressive_distillation_target(teacher, x, t, s, kind="v")
    torch.testing.assert_close(v, convert(x0, "x0", "v", x, t, sch))


class GaussianFlowMap(nn.Module):
    """The exact consistency function of N(m, s^2 I) data: the probability-flow ODE maps x_t to
    m + s (x_t - alpha m) / sqrt(alpha^2 s^2 + sigma^2)."""

    def __init__(self, schedule, m=0.7, s=0.4):
        super().__init__()
        self.schedule, self.m, self.s = schedule, m, s
        self.bias = nn.Parameter(torch.zeros((), dtype=F64))

    def forward(self, x, t):
        a, sg = (c[:, None] for c in self.schedule.alpha_sigma(t))
        return self.m + self.s * (x - a * self.m) / (a**2 * self.s**2 + sg**2).sqrt() + self.bias


class GaussianDenoiser(nn.Module):
    def __init__(self, schedule, m=0.7, s=0.4):
        super().__init__()
        self.schedule, self.m, self.s = schedule, m, s

    def forward(self, x, t):
        a, sg = (c[:, None] for c in self.schedule.alpha_sigma(t))
        return self.m + a * self.s**2 / (a**2 * self.s**2 + sg**2) * (x - a * self.m)


def test_consistency_distillation_of_the_exact_flow_map():
    sch = get_schedule("cosine")
    teacher = Denoiser(GaussianDenoiser(sch), sch, "x0")
    f = Denoiser(GaussianFlowMap(sch), sch, "x0")
    x0 = 0.7 + 0.4 * torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    grid = time_grid(40, dtype=F64)
    loss, logs = consistency_distillation_loss(
        f, f, teacher, x0, grid, generator=torch.Generator().manual_seed(1)
    )
    assert float(loss.detach()) < 1e-6 and logs["loss"] == float(loss.detach())  # Heun's local error only
    wrong = Denoiser(lambda x, t: x, sch, "x0")
    assert consistency_distillation_loss(wrong, f, teacher, x0, grid)[1]["loss"] > 1e-3
    _, huber = consistency_distillation_loss(f, f, teacher, x0, grid, solver="euler", distance="pseudo_huber")
    _, huber_wrong = consistency_distillation_loss(wrong, f, teacher, x0, grid, distance="pseudo_huber")
    assert huber_wrong["loss"] > 100 * huber["loss"]


def test_consistency_training_by_hand_and_gradients():
    sch = get_schedule("edm")
    online, target = GaussianFlowMap(sch), GaussianFlowMap(sch)
    online.bias.data.fill_(0.1)
    f, f_minus = Denoiser(online, sch, "x0"), Denoiser(target, sch, "x0")
    x0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    grid = karras_grid(10, schedule=sch, dtype=F64)
    loss, _ = consistency_training_loss(f, f_minus, x0, grid, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    n = torch.randint(0, 10, (64,), generator=g)
    eps = torch.randn(64, 2, generator=g, dtype=F64)
    t, s = grid[n], grid[n + 1]
    by_hand = ((online(sch.add_noise(x0, eps, t), t) - target(sch.add_noise(x0, eps, s), s)) ** 2).mean()
    torch.testing.assert_close(loss, by_hand)
    loss.backward()
    assert online.bias.grad is not None and target.bias.grad is None


def test_consistency_boundary_and_sampling():
    sch = get_schedule("cosine")
    net = lambda x, c_noise: x * 3 + 1  # noqa: E731
    f = Denoiser(EDMPrecond(net, sch), sch, "x0")
    x = torch.randn(5, 2, dtype=F64)
    assert torch.equal(f.x0(x, torch.zeros(5, dtype=F64)), x)  # f(x, 0) = x
    exact = Denoiser(GaussianFlowMap(sch), sch, "x0")
    x1 = sample_prior(sch, (4000, 1), generator=torch.Generator().manual_seed(0), dtype=F64)
    one = sample_consistency(exact, x1, time_grid(1, (4000,), dtype=F64))
    torch.testing.assert_close(one, exact.model(x1, torch.ones(4000, dtype=F64)))
    with torch.no_grad():
        multi = sample_consistency(
            exact, x1, time_grid(4, (4000,), dtype=F64), generator=torch.Generator().manual_seed(1)
        )
    assert float(multi.mean()) == pytest.approx(0.7, abs=0.03) and float(multi.std()) == pytest.approx(
        0.4, abs=0.03
    )


def test_ema_update_and_bad_grid():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    old = a.weight.detach().clone()
    ema_update_(a, b, 0.9)
    torch.testing.assert_close(a.weight, 0.9 * old + 0.1 * b.weight)
    sch = get_schedule("cosine")
    f = Denoiser(GaussianFlowMap(sch), sch, "x0")
    with pytest.raises(ValueError, match="1-D grid of decreasing times"):
        consistency_training_loss(f, f, torch.randn(4, 2, dtype=F64), time_grid(4, (4,), dtype=F64))
    with pytest.raises(ValueError, match="unknown distance"):
        consistency_training_loss(f, f, torch.randn(4, 2, dtype=F64), time_grid(4, dtype=F64), distance="l1")
