import math

import pytest
import torch

from genlab.core.metrics import psnr
from genlab.video.data import PALETTE, make_dataset
from genlab.video.metrics import (
    divergence_horizon,
    per_frame_centroid_error,
    per_frame_colour_similarity,
    per_frame_digit_identity,
    per_frame_mass_ratio,
    per_frame_psnr,
    per_frame_ssim,
)


def test_per_frame_psnr_matches_the_closed_form():
    torch.manual_seed(0)
    target = torch.rand(5, 1, 16, 16) * 1.6 - 0.8
    offsets = torch.tensor([0.02, 0.04, 0.08, 0.1, 0.2])
    pred = target + offsets[:, None, None, None]
    expected = -10 * torch.log10((offsets / 2) ** 2)  # [-1, 1] -> [0, 1] halves the error
    assert torch.allclose(per_frame_psnr(pred, target), expected, atol=1e-3)
    assert per_frame_psnr(target, target).isinf().all()


def test_batches_pool_over_videos_like_core_psnr():
    torch.manual_seed(1)
    pred, target = torch.rand(2, 3, 1, 8, 8) * 2 - 1, torch.rand(2, 3, 1, 8, 8) * 2 - 1
    curve = per_frame_psnr(pred, target)
    assert curve.shape == (3,)
    assert math.isclose(curve[1].item(), psnr((pred[:, 1] + 1) / 2, (target[:, 1] + 1) / 2), rel_tol=1e-6)


def test_per_frame_ssim_is_one_on_the_truth_and_falls_with_noise():
    torch.manual_seed(2)
    target = torch.rand(4, 3, 16, 16) * 2 - 1
    noise = torch.randn(4, 3, 16, 16) * torch.tensor([0.0, 0.1, 0.3, 0.6])[:, None, None, None]
    curve = per_frame_ssim((target + noise).clamp(-1, 1), target)
    assert math.isclose(curve[0].item(), 1.0, abs_tol=1e-5)
    assert (curve[1:] < curve[:-1]).all()


def test_divergence_horizon():
    assert divergence_horizon(torch.tensor([30.0, 25, 22, 21]), 20.0) == 4  # never diverges
    assert divergence_horizon(torch.tensor([30.0, 18, 25, 19, 12, 10]), 20.0) == 3  # a dip that recovers
    assert divergence_horizon(torch.tensor([10.0, 12]), 20.0) == 0
    assert divergence_horizon(torch.tensor([float("inf"), 30.0, 5.0]), 20.0) == 2


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="one shape"):
        per_frame_psnr(torch.zeros(3, 1, 8, 8), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="non-finite"):
        per_frame_psnr(torch.full((3, 1, 8, 8), float("nan")), torch.zeros(3, 1, 8, 8))
    with pytest.raises(ValueError, match="1-D"):
        divergence_horizon(torch.zeros(2, 3), 20.0)
    with pytest.raises(ValueError, match="NaN"):
        divergence_horizon(torch.tensor([30.0, float("nan")]), 20.0)


def test_mass_ratio_sees_fading_and_smearing_but_not_motion():
    video = -torch.ones(2, 3, 1, 8, 8)
    video[:, :, :, 2:4, 2:4] = 1.0
    moved = torch.roll(video, 3, dims=4)
    assert torch.allclose(per_frame_mass_ratio(moved, video), torch.ones(3))
    assert torch.allclose(per_frame_mass_ratio((video - 1) / 2, video), torch.full((3,), 0.5))
    assert (per_frame_mass_ratio(video.clamp(min=0), video) > 1).all()


def test_centroid_error_is_the_shift_of_an_object():
    video = -torch.ones(2, 3, 1, 16, 16)
    video[:, :, :, 2:5, 3:6] = 1.0
    shifted = torch.roll(video, shifts=(3, 4), dims=(3, 4))  # 5 pixels away
    assert torch.allclose(per_frame_centroid_error(shifted, video), torch.full((3,), 5.0))
    assert torch.equal(per_frame_centroid_error(video, video), torch.zeros(3))
    half = video.clone()
    half[1] = shifted[1]  # one video of the batch on track, one 5 pixels off
    assert torch.allclose(per_frame_centroid_error(half, video), torch.full((3,), 2.5))


def _single_digit_videos(n=6, frames=24):
    data = make_dataset("moving-digits", "test", frames=frames, size=32, length=n, digits=(1, 1))
    return torch.stack([data.sequence(i, frames) for i in range(n)]), [data.labels(i) for i in range(n)]


def test_digit_identity_is_one_on_single_digit_truth_and_chance_without_digits():
    videos, labels = _single_digit_videos()
    assert torch.equal(per_frame_digit_identity(videos, labels, 16), torch.ones(videos.shape[1]))
    wrong = [(lab + 1 + torch.arange(len(lab))) % 10 for lab in labels]  # every label replaced
    assert per_frame_digit_identity(videos, wrong, 16).max() == 0
    blank = per_frame_digit_identity(torch.full_like(videos, -1.0), labels, 16)
    noise = per_frame_digit_identity(torch.rand_like(videos) * 2 - 1, labels, 16)
    assert blank.mean() < 0.5 and noise.mean() < 0.5


def test_digit_identity_follows_the_digit_wherever_it_moves():
    videos, labels = _single_digit_videos(n=3)
    moved = torch.roll(videos, shifts=(5, -3), dims=(-2, -1))  # off track, still intact
    assert per_frame_digit_identity(moved, labels, 16).mean() > 0.9
    assert per_frame_psnr(moved, videos).mean() < 18


def test_digit_identity_rejects_bad_inputs():
    videos, labels = _single_digit_videos(n=2, frames=4)
    with pytest.raises(ValueError, match="one label tensor per video"):
        per_frame_digit_identity(videos, labels[:1], 16)
    with pytest.raises(ValueError, match="single-channel"):
        per_frame_digit_identity(videos.expand(-1, -1, 3, -1, -1), labels, 16)
    with pytest.raises(ValueError, match="digit_size"):
        per_frame_digit_identity(videos, labels, 40)


def _shapes_videos(n=4, frames=12):
    data = make_dataset("shapes", "test", frames=frames, size=32, length=n)
    return torch.stack([data.sequence(i, frames) for i in range(n)])


def test_colour_similarity_keeps_moved_shapes_and_sees_fading_and_recolouring():
    videos = _shapes_videos()
    assert torch.equal(per_frame_colour_similarity(videos, videos, PALETTE), torch.ones(12))
    moved = torch.roll(videos, shifts=(7, -5), dims=(-2, -1))  # off track, every colour intact
    assert torch.equal(per_frame_colour_similarity(moved, videos, PALETTE), torch.ones(12))
    assert per_frame_psnr(moved, videos).mean() < 18
    blank = torch.full_like(videos, -1.0)
    assert torch.equal(per_frame_colour_similarity(blank, videos, PALETTE), torch.zeros(12))
    assert torch.equal(per_frame_colour_similarity(blank, blank, PALETTE), torch.ones(12))
    recoloured = videos[:, :, [1, 2, 0]]  # red -> blue, green -> red, blue -> green: other palette colours
    assert per_frame_colour_similarity(recoloured, videos, PALETTE).max() < 0.5


def test_colour_similarity_is_the_weighted_jaccard_of_the_histograms():
    target = -torch.ones(1, 1, 3, 4, 4)
    target[..., :2, :] = 1.0  # 8 white pixels
    pred = -torch.ones(1, 1, 3, 4, 4)
    pred[..., 0, :] = 1.0  # 4 white
    pred[..., 3, :2] = torch.tensor([1.0, -1.0, -1.0])[:, None]  # 2 red
    palette = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert per_frame_colour_similarity(pred, target, palette).item() == pytest.approx((4 + 0) / (8 + 2))
    with pytest.raises(ValueError, match="palette must be"):
        per_frame_colour_similarity(pred, target, palette[:, :2])
