"""Diffuser: the temporal U-Net, inpainting in training and sampling, planning and control, bad inputs."""

import numpy as np
import pytest
import torch
from torch import nn

from genlab.robotics.diffuser import Diffuser, windows
from genlab.robotics.normalizer import LimitsNormalizer
from genlab.robotics.planning import Planner, PlanTracker, feasible, track
from genlab.robotics.temporal_unet import TemporalUnet, TemporalValue

# UMaze-like ranges of (ax, ay, x, y, vx, vy)
NORMALIZER = LimitsNormalizer([-1, -1, -1.2, -1.2, -5.2, -5.2], [1, 1, 1.2, 1.2, 5.2, 5.2])


def tiny_diffuser(**kw) -> Diffuser:
    return Diffuser(NORMALIZER, 2, kw.pop("horizons", (16,)), steps=kw.pop("steps", 5), **kw)


def test_temporal_unet_shape_and_time_dependence():
    torch.manual_seed(0)
    model = TemporalUnet(6, dim=8, dim_mults=(1, 2, 4))
    x = torch.randn(3, 32, 6)
    out = model(x, torch.full((3,), 0.2))
    assert out.shape == x.shape
    assert not torch.allclose(out, model(x, torch.full((3,), 0.7)), atol=1e-4)  # a function of t
    assert model(torch.randn(2, 16, 6), torch.rand(2)).shape == (2, 16, 6)  # variable-length plans
    value = TemporalValue(32, 6, dim=8)
    assert value(x, torch.rand(3)).shape == (3,)


def test_temporal_unet_rejects_bad_shapes():
    model = TemporalUnet(6, dim=8, dim_mults=(1, 2, 4))
    with pytest.raises(ValueError, match=r"\[B, H, 6\]"):
        model(torch.randn(2, 32, 5), torch.rand(2))
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.randn(2, 30, 6), torch.rand(2))
    with pytest.raises(ValueError, match="prefix"):
        model(torch.randn(2, 32, 6), torch.rand(3))
    with pytest.raises(ValueError, match="multiple of 8"):
        TemporalUnet(6, dim=12)


class Spy(nn.Module):
    """x0 prediction = input + bias, remembering the input it was given."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x, t):
        self.seen = x.detach().clone()
        return x + self.bias


def test_training_input_carries_start_and_goal_and_they_leave_the_loss():
    torch.manual_seed(1)
    d = tiny_diffuser(horizons=(8, 16))
    x0 = torch.rand(4, 16, 6) * 2 - 1
    spy = Spy()
    for _ in range(6):
        loss, logs = d.loss(spy, x0)
        h = int(logs["horizon"])
        assert h in (8, 16)
        assert torch.equal(spy.seen[:, 0, 2:], x0[:, 0, 2:])
        assert torch.equal(spy.seen[:, -1, 2:], x0[:, h - 1, 2:])
        assert not torch.allclose(spy.seen[:, 1:-1], x0[:, 1 : h - 1])  # the rest is noised
    # the conditioned entries are given, so the model's output there does not count
    c = d.constraint(x0[:, 0, 2:], x0[:, -1, 2:], 16)
    out = torch.zeros_like(x0, requires_grad=True)
    err = ((out - x0) ** 2 * ~c.mask).sum()
    (grad,) = torch.autograd.grad(err, out)
    assert (grad[c.mask] == 0).all() and (grad[~c.mask] != 0).any()


def test_every_sample_holds_start_and_goal_exactly():
    torch.manual_seed(2)
    d = tiny_diffuser(steps=6)
    model = TemporalUnet(6, dim=8, dim_mults=(1, 2))
    start, goal = torch.rand(5, 4) * 2 - 1, torch.rand(5, 4) * 2 - 1
    plans = d.sample(model, start, goal, 16, generator=torch.Generator().manual_seed(0))
    assert plans.shape == (5, 16, 6)
    assert torch.equal(plans[:, 0, 2:], start) and torch.equal(plans[:, -1, 2:], goal)
    assert plans.abs().max() <= 1 + 1e-6 and not torch.equal(plans[:, 1, 2:], plans[:, 2, 2:])
    # without goal conditioning only the start is held
    free = Diffuser(NORMALIZER, 2, (16,), steps=6, condition_goal=False)
    plans = free.sample(model, start, None, 16)
    assert torch.equal(plans[:, 0, 2:], start) and not torch.equal(plans[:, -1, 2:], goal)


def test_planner_plans_from_the_observation_to_the_goal():
    torch.manual_seed(3)
    d = tiny_diffuser(horizons=(16, 32))
    planner = Planner(d, TemporalUnet(6, dim=8, dim_mults=(1, 2)), "umaze", n_samples=2)
    obs, goal = np.array([0.9, 1.1, 0.5, -0.3]), np.array([-1.0, -1.05])
    plan = planner(obs, goal, torch.Generator().manual_seed(0))
    assert plan.shape[1] == 4 and len(plan) in (16, 32)
    np.testing.assert_allclose(plan[0], obs, atol=1e-5)  # exact in normalised float32 space
    np.testing.assert_allclose(plan[-1], [*goal, 0, 0], atol=1e-5)


def test_planner_rejects_bad_inputs():
    planner = Planner(tiny_diffuser(), TemporalUnet(6, dim=8, dim_mults=(1, 2)), "umaze")
    obs = np.array([0.9, 1.1, 0.0, 0.0])
    with pytest.raises(ValueError, match="outside the umaze maze"):
        planner(obs, np.array([7.0, 0.0]))
    with pytest.raises(ValueError, match="wall cell"):
        planner(obs, np.array([-1.0, 0.0]))  # row 2, col 0 is a wall
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        planner(obs[:3], np.array([-1.0, -1.0]))
    with pytest.raises(ValueError, match="goal-conditioned"):
        tiny_diffuser().constraint(torch.zeros(2, 4), None, 16)
    with pytest.raises(ValueError, match=r"\[B, 4\]"):
        tiny_diffuser().constraint(torch.zeros(2, 6), torch.zeros(2, 6), 16)


def test_feasibility_rejects_walls_and_jumps():
    step = np.array([0.065, 0.065])
    along_top = np.stack([np.linspace(-1, 1, 40), np.full(40, 1.0)], axis=1)  # row 1 is free
    assert feasible(_layout(), along_top, step)
    through_wall = np.stack([np.full(40, -1.0), np.linspace(1, -1, 40)], axis=1)  # crosses (2, 0)
    assert not feasible(_layout(), through_wall, np.array([1.0, 1.0]))
    assert not feasible(_layout(), along_top[::4], step)  # steps of 0.2 beat the top speed


def _layout():
    from genlab.robotics.mazes import get_maze

    return get_maze("umaze")


def test_tracking_controller_is_diffusers():
    plan = np.array([[0.0, 0.0, 1.0, 0.0], [0.01, 0.0, 1.2, 0.1], [0.3, 0.2, 0.0, 0.0]])
    obs = np.array([0.0, 0.05, 0.8, 0.0])
    # a = (p*_{k+1} - p_k) + (v*_{k+1} - v_k)
    np.testing.assert_allclose(track(plan, 1, obs), [0.01 + 0.4, -0.05 + 0.1], rtol=1e-6)
    np.testing.assert_allclose(track(plan, 5, obs), [0.3 - 0.8, 0.15], rtol=1e-6)  # past the end: at rest
    assert np.abs(track(plan * 10, 1, obs)).max() == 1.0  # clipped to the action box


def test_tracker_replans_on_schedule():
    class FixedPlanner:
        def __init__(self):
            self.calls = 0

        def __call__(self, obs, goal, generator=None):
            self.calls += 1
            return np.repeat(obs[None], 8, axis=0)

    planner = FixedPlanner()
    tracker = PlanTracker(planner, replan_every=3)
    for _ in range(7):
        tracker(np.zeros(4), np.array([1.0, 1.0]))  # far from the goal: replanning goes on
    assert planner.calls == 3 and [s for s, _ in tracker.plans] == [0, 3, 6]
    arrived = PlanTracker(planner, replan_every=3)
    for _ in range(7):
        arrived(np.zeros(4), np.array([0.3, 0.0]))  # within the goal radius 0.45: keep the plan
    assert planner.calls == 4 and len(arrived.plans) == 1
    with pytest.raises(ValueError, match="replan_every"):
        PlanTracker(planner, replan_every=-1)


def test_windows_and_their_bounds():
    stream = torch.arange(20.0)[:, None]
    w = windows(stream, torch.tensor([0, 5, 15]), 5)
    assert w.shape == (3, 5, 1) and w[1, :, 0].tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="window starts"):
        windows(stream, torch.tensor([16]), 5)
