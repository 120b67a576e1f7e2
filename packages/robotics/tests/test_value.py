"""Value guidance: the task reward, window returns, and guided samples that score higher than unguided ones."""

import numpy as np
import pytest
import torch

from genlab.robotics.diffuser import Diffuser
from genlab.robotics.normalizer import LimitsNormalizer
from genlab.robotics.temporal_unet import TemporalValue
from genlab.robotics.value import reach_any_reward, value_guide, value_loss, value_rank, window_returns


def test_reach_any_reward():
    targets = np.array([[0.0, 0.0], [2.0, 0.0]])
    r = reach_any_reward(np.array([[0.1, 0.1], [1.0, 0.0], [2.0, 0.44], [2.0, 0.46]]), targets, 0.45)
    np.testing.assert_array_equal(r, [1, 0, 1, 0])
    with pytest.raises(ValueError, match="targets"):
        reach_any_reward(np.zeros((3, 2)), np.zeros(2), 0.45)


def test_window_returns_match_the_sum():
    rng = np.random.default_rng(0)
    rewards = (rng.random(50) < 0.3).astype(float)
    got = window_returns(rewards, 7, 0.9)
    want = [sum(0.9**k * rewards[s + k] for k in range(7)) for s in range(44)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


class GaussianDenoiser(torch.nn.Module):
    """The exact x0-denoiser of data N(0, sd^2) per entry: E[x0 | x_t] = alpha sd^2 x_t / (alpha^2 sd^2 + sigma^2)."""

    def __init__(self, schedule, sd: float = 0.5):
        super().__init__()
        self.schedule, self.sd2 = schedule, sd**2

    def forward(self, x, t):
        a, s = (c[:, None, None] for c in self.schedule.alpha_sigma(t))
        return a * self.sd2 * x / (a**2 * self.sd2 + s**2)


def test_value_guidance_raises_the_value_of_samples():
    """A value net fitted on noised trajectories to a known return (their mean x-channel) steers sampling up."""
    torch.manual_seed(0)
    normalizer = LimitsNormalizer([-1.0] * 4, [1.0] * 4)
    d = Diffuser(normalizer, 0, (16,), condition_goal=False, steps=8)
    value = TemporalValue(16, 4, dim=8, dim_mults=(1,))
    for _ in range(100):  # plain gradient descent (torch.optim's first use costs seconds of imports)
        x0 = 0.5 * torch.randn(32, 16, 4)
        loss, _ = value_loss(value, d, x0, x0[:, :, 0].mean(1))
        grads = torch.autograd.grad(loss, list(value.parameters()))
        with torch.no_grad():
            for p, g in zip(value.parameters(), grads):
                p -= 0.2 * g
    model = GaussianDenoiser(d.schedule)
    start = torch.zeros(32, 4)
    plain = d.sample(model, start, None, 16, generator=torch.Generator().manual_seed(1))
    guided = d.sample(
        model,
        start,
        None,
        16,
        generator=torch.Generator().manual_seed(1),
        guide=value_guide(value, 0.0),
        scale=10.0,
    )
    true_plain, true_guided = plain[:, :, 0].mean(1), guided[:, :, 0].mean(1)
    assert true_guided.mean() > true_plain.mean() + 0.1 and (true_guided > true_plain).all()
    rank = value_rank(value)
    assert rank(guided).mean() > rank(plain).mean()
    assert torch.equal(guided[:, 0], start)  # the start is still inpainted


def test_guide_is_cut_below_t_stop():
    value = TemporalValue(16, 4, dim=8)
    x = torch.randn(3, 16, 4, requires_grad=True)
    out = value_guide(value, 0.5)(x, torch.tensor([0.1, 0.6, 0.9]))
    (g,) = torch.autograd.grad(out.sum(), x)
    assert (g[0] == 0).all() and g[1].abs().sum() > 0
