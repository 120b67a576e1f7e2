"""History guidance: the score combination against a model whose output reveals the history level."""

import pytest
import torch
from torch import nn

from genlab.core.diffusion import Denoiser, get_schedule
from genlab.video.history import HistoryGuidance, Term, guidance_terms, history_guidance, parse_setting
from genlab.video.sampling import sample_frames

N_HIST = 3


class LevelSpy(nn.Module):
    """Outputs, on every frame, the mean level of the first N_HIST frames; counts its calls."""

    def __init__(self):
        super().__init__()
        self.calls, self.batches = 0, []

    def forward(self, x, t):
        self.calls += 1
        self.batches.append(x.shape[0])
        return t[:, :N_HIST].mean(1).view(-1, 1, 1, 1, 1).expand_as(x).clone()


def guided(variant, scale, level=0.5, stabilization=0.0):
    spy = LevelSpy()
    den = Denoiser(spy, get_schedule("cosine"), "v")
    history = torch.randn(2, N_HIST, 1, 4, 4)
    wrapped = HistoryGuidance(den, history, guidance_terms(variant, scale, stabilization, level))
    x, t = torch.randn(2, N_HIST + 2, 1, 4, 4), torch.full((2, N_HIST + 2), 0.5)
    return wrapped.raw(x, t)[:, N_HIST:], spy


@pytest.mark.parametrize(
    ("variant", "scale", "expected"),
    [
        ("conditional", 3.0, 0.0),  # s(x | h^0)
        ("vanilla", 1.0, 0.0),  # w = 1 is the conditional model
        ("vanilla", 3.0, 1 + 3 * (0 - 1)),  # s(h^1) + w (s(h^0) - s(h^1))
        ("fractional", 1.0, 0.0),
        ("fractional", 3.0, 1 + (0 - 1) + 2 * (0.5 - 1)),  # terms (1, 0) and (w - 1, k_f = 0.5)
        ("stabilized_vanilla", 3.0, 1 + 3 * (0.1 - 1)),  # the full history at k_s = 0.1
    ],
)
def test_combination_is_the_papers_formula(variant, scale, expected):
    out, spy = guided(variant, scale, stabilization=0.1)
    torch.testing.assert_close(out, torch.full_like(out, expected))
    assert spy.calls == 1  # every condition in one batched pass


def test_passes_are_batched_over_distinct_levels():
    _, spy = guided("fractional", 2.0, level=0.3)
    assert spy.batches == [2 * 3]  # levels 0, 0.3 and 1


@pytest.mark.parametrize(("variant", "scale"), [("conditional", 1.0), ("vanilla", 1.0), ("fractional", 1.0)])
def test_no_guidance_runs_the_full_history_pass_alone(variant, scale):
    _, spy = guided(variant, scale)
    assert spy.batches == [2]  # the empty-history pass cancels out, so it is not run


def test_history_frames_are_replaced_by_the_noised_history():
    seen = {}

    def model(x, t):
        seen["x"], seen["t"] = x, t
        return torch.zeros_like(x)

    den = Denoiser(model, get_schedule("cosine"), "eps")
    history = torch.randn(1, 2, 1, 4, 4)
    HistoryGuidance(den, history, [Term(2.0, 0.0)]).raw(torch.zeros(1, 3, 1, 4, 4), torch.full((1, 3), 0.7))
    x, t = seen["x"].split(1), seen["t"].split(1)  # levels sorted: 0 then 1
    torch.testing.assert_close(x[0][:, :2], history)  # level 0: alpha = 1, sigma = 0
    assert t[0][0, :2].eq(0).all() and t[1][0, :2].eq(1).all() and t[1][0, 2] == 0.7
    assert (x[1][:, :2] - history).abs().mean() > 0.5  # level 1: noise
    assert x[0][:, 2:].eq(0).all()  # the frames being generated pass through


def test_conditional_guide_reproduces_unguided_sampling_with_clean_history():
    torch.manual_seed(0)
    net = nn.Conv3d(1, 1, 3, padding=1)
    den = Denoiser(
        lambda x, t: net(x.transpose(1, 2)).transpose(1, 2) * t[..., None, None, None],
        get_schedule("cosine"),
        "v",
    )
    context = torch.randn(2, 2, 1, 6, 6)
    opts = dict(steps=4, schedule="full_sequence", stabilization=0.0)
    plain = sample_frames(den, context, 3, generator=torch.Generator().manual_seed(1), **opts)
    guide = history_guidance(guidance_terms("conditional"))
    with_guide = sample_frames(
        den, context, 3, generator=torch.Generator().manual_seed(1), guide=guide, **opts
    )
    torch.testing.assert_close(with_guide, plain)


def test_settings_and_errors():
    assert parse_setting("vanilla:2") == ("vanilla", 2.0, 0.5)
    assert parse_setting(" fractional:1.5:0.3") == ("fractional", 1.5, 0.3)
    assert parse_setting("conditional") == ("conditional", 1.0, 0.5)
    with pytest.raises(ValueError, match="did you mean"):
        parse_setting("vanila:2")
    with pytest.raises(ValueError, match="name\\[:scale"):
        parse_setting("vanilla:x")
    with pytest.raises(ValueError, match="levels lie in"):
        Term(1.0, 1.5)
    den = Denoiser(LevelSpy(), get_schedule("cosine"), "v")
    with pytest.raises(ValueError, match="history must be"):
        HistoryGuidance(den, torch.zeros(2, 0, 1, 4, 4), [Term(1.0, 0.0)])
    wrapped = HistoryGuidance(den, torch.zeros(2, 3, 1, 4, 4), [Term(1.0, 0.0)])
    with pytest.raises(ValueError, match="does not extend"):
        wrapped.raw(torch.zeros(2, 3, 1, 4, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="needs context frames"):
        sample_frames(den, torch.zeros(2, 0, 1, 4, 4), 2, guide=history_guidance([Term(1.0, 0.0)]))
