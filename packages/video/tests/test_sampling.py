"""Sampling: frames whose level does not drop stay put, history modes, long rollouts, guidance."""

import pytest
import torch
from torch import nn

from genlab.core.diffusion import Denoiser, get_schedule, sample_ddim
from genlab.video.guidance import region_reward, steer
from genlab.video.models import RecurrentDenoiser, VideoTransformer
from genlab.video.sampling import rollout, sample_frames
from genlab.video.schedules import scheduling_grid, scheduling_matrix, update_mask

SCHEDULE = get_schedule("cosine")


class Spy(nn.Module):
    """Predicts v = 0.3 x (mixing nothing across frames) and remembers every call."""

    def __init__(self, inner=None):
        super().__init__()
        self.inner, self.calls = inner, []
        self.recurrent = getattr(inner, "recurrent", False)

    def forward(self, x, t, **cond):
        self.calls.append((x.clone(), t.clone()))
        return 0.3 * x if self.inner is None else self.inner(x, t, **cond)

    def scan(self, x, t, state=None):
        return self.inner.scan(x, t, state)


def small(model):
    torch.manual_seed(0)
    for p in model.parameters():
        nn.init.normal_(p, std=0.1)
    return model


def test_a_step_leaves_frames_whose_level_does_not_drop_unchanged():
    levels = scheduling_matrix("pyramid", 6, 4, context=2)
    grid = scheduling_grid(levels, 4, batch_size=3)
    den = Denoiser(small(VideoTransformer(1, 8, 8, patch=4, dim=16, depth=1, heads=2)), SCHEDULE, "v")
    x = torch.randn(3, 8, 1, 8, 8)
    for row in (0, 3, 6):
        moving = update_mask(levels)[row]
        assert moving.any() and not moving.all()
        out = sample_ddim(den, x, grid[row : row + 2])
        assert torch.equal(out[:, ~moving], x[:, ~moving])
        assert (out[:, moving] != x[:, moving]).all(dim=(0, 2, 3, 4)).all()


def test_stabilized_history_is_seen_at_its_level_and_never_updated():
    spy, context = Spy(), torch.rand(2, 3, 1, 4, 4) * 2 - 1
    den = Denoiser(spy, SCHEDULE, "v")
    new = sample_frames(den, context, 4, schedule="pyramid", steps=3, stabilization=0.05)
    alpha, _ = SCHEDULE.alpha_sigma(torch.tensor(0.05))
    assert new.shape == (2, 4, 1, 4, 4) and len(spy.calls) == 3 + 3  # K + (frames - 1) rows of steps
    for x, t in spy.calls:
        assert torch.allclose(t[:, :3], torch.tensor(0.05)) and torch.equal(x[:, :3], alpha * context)
        assert (t[:, 3:] >= t[:, 3:4]).all()  # pyramid: later frames are noisier


def test_replaced_history_is_renoised_to_the_level_of_the_new_frames():
    spy, context = Spy(), torch.rand(2, 3, 1, 4, 4) * 2 - 1
    sample_frames(
        Denoiser(spy, SCHEDULE, "v"), context, 2, schedule="full_sequence", steps=4, history="replaced"
    )
    for x, t in spy.calls:
        assert (t == t[:, :1]).all()
        assert not torch.allclose(x[:, :3], context)  # noised, not clean


@pytest.mark.parametrize("recurrent", [False, True])
def test_rollouts_go_far_beyond_the_window(recurrent):
    net = RecurrentDenoiser(1, 8, base=8, hidden=8) if recurrent else VideoTransformer(1, 8, 6, 4, 16, 1, 2)
    spy = Spy(small(net))
    context = torch.rand(2, 3, 1, 8, 8) * 2 - 1
    out = rollout(Denoiser(spy, SCHEDULE, "v"), context, 25, window=6, chunk=4, steps=2, stabilization=0.02)
    assert out.shape == (2, 25, 1, 8, 8) and out.abs().max() <= 1
    longest = max(x.shape[1] for x, _ in spy.calls)
    assert longest == (4 if recurrent else 6)  # the state replaces the window; the window is capped


def test_the_recurrent_state_is_the_history():
    net = small(RecurrentDenoiser(1, 8, base=8, hidden=8)).double()
    den = Denoiser(net, SCHEDULE, "v")
    context = torch.rand(2, 5, 1, 8, 8, dtype=torch.float64) * 2 - 1
    alpha, _ = SCHEDULE.alpha_sigma(torch.tensor(0.1, dtype=torch.float64))
    _, state = net.scan(alpha * context, torch.full((2, 5), 0.1, dtype=torch.float64))
    windowed = sample_frames(
        den, context, 3, steps=3, stabilization=0.1, generator=torch.Generator().manual_seed(0)
    )
    carried = sample_frames(
        den, context[:, :0], 3, steps=3, cond={"state": state}, generator=torch.Generator().manual_seed(0)
    )
    assert torch.allclose(windowed, carried, atol=1e-10)


def test_monte_carlo_guidance_steers_toward_the_region():
    den = Denoiser(small(VideoTransformer(1, 8, 6, patch=4, dim=16, depth=1, heads=2)), SCHEDULE, "v")
    context, region = torch.zeros(4, 2, 1, 8, 8) - 1, (0, 4, 0, 4)
    reward = region_reward(region)
    plain, guided = (
        steer(
            den,
            context,
            3,
            region,
            scale=s,
            mc_samples=2,
            steps=4,
            generator=torch.Generator().manual_seed(0),
        )
        for s in (0.0, 3.0)
    )
    zero_t = torch.zeros(4, 3)
    assert (reward(guided, zero_t) > reward(plain, zero_t) + 1).all()


def test_bad_inputs_are_named():
    den = Denoiser(Spy(), SCHEDULE, "v")
    context = torch.zeros(1, 2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"\[B, T, C, H, W\]"):
        sample_frames(den, torch.zeros(2, 1, 4, 4), 2)
    with pytest.raises(ValueError, match="stabilization"):
        sample_frames(den, context, 2, stabilization=1.0)
    with pytest.raises(ValueError, match="did you mean 'replaced'"):
        sample_frames(den, context, 2, history="replace")
    with pytest.raises(ValueError, match="chunk < window"):
        rollout(den, context, 8, window=4, chunk=4)
    with pytest.raises(ValueError, match="at least one context frame"):
        rollout(den, context[:, :0], 8, window=4, chunk=2)
    with pytest.raises(ValueError, match="does not fit"):
        region_reward((0, 9, 0, 2))(torch.zeros(1, 2, 1, 4, 4), None)
