import imageio.v3 as iio
import pytest
import torch

from genlab.video import io
from genlab.video.data import BouncingShapes, MovingDigits


@pytest.fixture(scope="module")
def clip():
    return MovingDigits(frames=6, length=2)[0]


@pytest.mark.parametrize("scale", [1, 2])
def test_gif_round_trip(tmp_path, clip, scale):
    path = io.write_video(clip, tmp_path / "clip.gif", fps=5, scale=scale)
    frames = iio.imread(path, index=None)
    assert frames.shape[0] == clip.shape[0]
    assert frames.shape[1:3] == (32 * scale, 32 * scale)
    grey = torch.as_tensor(frames[..., 0]).float()[:, None, ::scale, ::scale] / 127.5 - 1
    assert (grey - clip).abs().max() < 0.02  # a grey GIF palette holds every level


def test_mp4_round_trip(tmp_path, clip):
    path = io.write_video(clip, tmp_path / "clip.mp4", fps=5, scale=2)
    frames = iio.imread(path, plugin="FFMPEG", index=None)
    assert frames.shape == (clip.shape[0], 64, 64, 3)
    grey = torch.as_tensor(frames[..., 0]).float()[:, None, ::2, ::2] / 127.5 - 1
    assert (grey - clip).abs().mean() < 0.05  # lossy, but the same frames in the same order


def test_mp4_without_imageio_ffmpeg_names_the_package(tmp_path, clip, monkeypatch):
    monkeypatch.setattr(io, "_has_ffmpeg", lambda: False)
    with pytest.raises(ImportError, match="imageio-ffmpeg"):
        io.write_video(clip, tmp_path / "clip.mp4")


def test_side_by_side_joins_grey_and_rgb(tmp_path, clip):
    rgb = BouncingShapes(frames=6, length=1)[0]
    both = io.side_by_side([clip, rgb])
    assert both.shape == (6, 3, 32, 65)
    assert torch.equal(both[:, :, :, :32], clip.expand(-1, 3, -1, -1))
    assert (both[:, :, :, 32] == 1).all()
    frames = iio.imread(io.write_side_by_side([clip, rgb], tmp_path / "pair.gif"), index=None)
    assert frames.shape[:3] == (6, 32, 65)


def test_frame_grid_and_png(tmp_path, clip):
    grid = io.frame_grid(torch.stack([clip, clip]), every=2)
    assert grid.shape == (1, 2 * 32 + 1, 3 * 32 + 2)
    assert torch.equal(grid[:, 33:, 33:65], clip[2])
    path = io.write_grid([clip, clip], tmp_path / "grid.png", labels=["rollout", "truth"], every=2)
    assert iio.imread(path).ndim == 3
    curves = io.plot_curves({"a": torch.linspace(30, 10, 20)}, tmp_path / "psnr.png", threshold=15.0)
    assert iio.imread(curves).ndim == 3


def test_grid_shows_a_whole_video_in_at_most_16_columns(tmp_path):
    short, long = torch.zeros(10, 1, 4, 4), torch.zeros(136, 1, 4, 4)
    assert io.frame_grid([short]).shape[-1] == 10 * 5 - 1  # every frame, not frames 0 and 8 only
    assert (io.frame_grid([long]).shape[-1] + 1) // 5 == 16  # every 9th of 136 frames
    assert io.frame_stride(136) == 9 and io.frame_stride(16) == 1 and io.frame_stride(17) == 2
    title = "diffusion-forcing, transformer: 8 context frames, trained on 16, with a long title"
    path = io.write_grid([short], tmp_path / "narrow.png", labels=["rollout"], title=title)
    assert iio.imread(path).shape[1] >= 4.5 * 120  # wide enough for the wrapped title


def test_bad_videos_raise_clear_errors(tmp_path, clip):
    with pytest.raises(ValueError, match=r"\[T, C, H, W\]"):
        io.write_video(clip[0], tmp_path / "x.gif")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        io.write_video(clip * 2, tmp_path / "x.gif")
    with pytest.raises(ValueError, match="non-finite"):
        io.write_video(clip.clone().fill_(float("nan")), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="unknown video format"):
        io.write_video(clip, tmp_path / "x.avi")
    with pytest.raises(ValueError, match="share length"):
        io.side_by_side([clip, clip[:3]])
    with pytest.raises(ValueError, match="labels"):
        io.write_grid([clip], tmp_path / "g.png", labels=["a", "b"])
