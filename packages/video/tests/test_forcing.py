"""Training objectives: per-frame levels applied per frame, teacher forcing's clean history, padding."""

import pytest
import torch
from torch import nn

from genlab.core.diffusion import Denoiser, get_schedule
from genlab.video.forcing import forcing_loss, noise_levels


class Spy(nn.Module):
    """A per-frame linear map that remembers what it was given."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))
        self.seen = []

    def forward(self, x, t):
        self.seen.append((x.detach().clone(), t.detach().clone()))
        return self.w * x


def spy_denoiser():
    return Denoiser(Spy(), get_schedule("cosine"), "v")


def test_each_frame_is_noised_at_its_own_level_and_level_zero_is_untouched():
    den, x0 = spy_denoiser(), torch.rand(3, 5, 1, 4, 4) * 2 - 1
    t = torch.tensor([[0.0, 0.3, 0.0, 1.0, 0.7]]).expand(3, 5)
    forcing_loss(den, x0, t=t, generator=torch.Generator().manual_seed(0))
    x_t, t_seen = den.model.seen[-1]
    assert torch.equal(t_seen, t)
    assert torch.equal(x_t[:, [0, 2]], x0[:, [0, 2]])  # exactly the clean frames
    for k in (1, 3, 4):
        assert not torch.allclose(x_t[:, k], x0[:, k])
    alpha, sigma = get_schedule("cosine").alpha_sigma(torch.tensor(0.3))
    eps = (x_t[:, 1] - alpha * x0[:, 1]) / sigma  # frame 1 holds alpha x0 + sigma eps, eps ~ N(0, 1)
    assert abs(eps.std().item() - 1) < 0.25


def test_diffusion_forcing_levels_are_independent_per_frame():
    t, scored = noise_levels("diffusion-forcing", 256, 8, generator=torch.Generator().manual_seed(0))
    assert t.shape == (256, 8) and scored.all() and (t >= 0).all() and (t <= 1).all()
    assert (t.std(dim=1) > 0.05).float().mean() > 0.95  # frames of one clip differ
    corr = torch.corrcoef(t.T)[0, 1:]  # and are uncorrelated across frames
    assert corr.abs().max() < 0.2


def test_full_sequence_has_one_level_per_clip():
    t, scored = noise_levels("full-sequence", 16, 6)
    assert scored.all() and (t == t[:, :1]).all() and t[:, 0].std() > 0


def test_teacher_forcing_scores_one_frame_after_clean_history():
    t, scored = noise_levels("teacher-forcing", 64, 6, generator=torch.Generator().manual_seed(1))
    assert (scored.sum(1) == 1).all() and not scored[:, 0].any()
    target = scored.float().argmax(1)
    k = torch.arange(6)[None]
    assert (t[k < target[:, None]] == 0).all() and (t[k > target[:, None]] == 1).all()
    assert len(set(target.tolist())) == 5  # every position 1..5 is a target for some clip
    den, x0 = spy_denoiser(), torch.randn(64, 6, 1, 2, 2)
    forcing_loss(den, x0, "teacher-forcing", generator=torch.Generator().manual_seed(1))
    x_t, _ = den.model.seen[-1]
    history = (k < target[:, None])[..., None, None, None].expand_as(x0)
    assert torch.equal(x_t[history], x0[history])  # the model sees the ground-truth past


def test_padded_frames_are_full_noise_and_never_scored():
    valid = torch.tensor([[True, True, True, False], [True, False, True, True]])
    for objective in ("diffusion-forcing", "full-sequence", "teacher-forcing"):
        t, scored = noise_levels(objective, 2, 4, valid=valid)
        assert (t[~valid] == 1).all() and not scored[~valid].any()
    x0, other = torch.randn(2, 4, 1, 3, 3), torch.randn(2, 4, 1, 3, 3)
    other[valid] = x0[valid]  # differ only in the padded frames
    losses = [
        forcing_loss(spy_denoiser(), x, valid=valid, generator=torch.Generator().manual_seed(3))[0]
        for x in (x0, other)
    ]
    assert torch.equal(losses[0], losses[1])


def test_bad_inputs_are_named():
    den = spy_denoiser()
    with pytest.raises(ValueError, match="did you mean 'teacher-forcing'"):
        noise_levels("teacher_forcing", 2, 4)
    with pytest.raises(ValueError, match=">= 2 frames"):
        noise_levels("teacher-forcing", 2, 1)
    with pytest.raises(ValueError, match="valid must be"):
        noise_levels("diffusion-forcing", 2, 4, valid=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[B, T, C, H, W\]"):
        forcing_loss(den, torch.randn(2, 4, 8, 8))
    with pytest.raises(ValueError, match="one level per frame"):
        forcing_loss(den, torch.randn(2, 4, 1, 8, 8), t=torch.rand(2))
    with pytest.raises(ValueError, match="every frame is padding"):
        forcing_loss(den, torch.randn(2, 4, 1, 8, 8), valid=torch.zeros(2, 4, dtype=torch.bool))


def test_history_dropout_levels():
    t, scored = noise_levels(
        "history-dropout", 2000, 6, history=4, dropout=0.25, generator=torch.Generator().manual_seed(0)
    )
    hist, future = t[:, :4], t[:, 4:]
    assert ((hist == 0) | (hist == 1)).all() and (hist == hist[:, :1]).all()  # all clean or all dropped
    assert abs(hist[:, 0].mean().item() - 0.25) < 0.03
    assert (future == future[:, :1]).all() and 0 < future.min() and future.max() < 1
    assert scored[:, 4:].all() and not scored[:, :4].any()
    with pytest.raises(ValueError, match="1 <= history < frames"):
        noise_levels("history-dropout", 2, 4, history=4)
    with pytest.raises(ValueError, match="probability"):
        noise_levels("history-dropout", 2, 4, history=2, dropout=1.5)


def test_uniform_future_levels():
    """DFoT's simplified training: independent history levels, one shared level on the future."""
    t, scored = noise_levels("uniform-future", 2000, 6, history=4, generator=torch.Generator().manual_seed(0))
    hist, future = t[:, :4], t[:, 4:]
    assert (future == future[:, :1]).all() and 0 < future.min() and future.max() < 1
    assert (hist != hist[:, :1]).any(1).float().mean() > 0.99  # history levels differ within a clip
    assert abs(hist.mean().item() - 0.5) < 0.02 and scored.all()
    with pytest.raises(ValueError, match="uniform-future needs 1 <= history < frames"):
        noise_levels("uniform-future", 2, 4, history=0)
