"""Video files and figures: GIF (Pillow) or MP4 (imageio-ffmpeg) through imageio, side-by-side
rollouts, frame grids and per-frame metric curves (matplotlib).

The pictures that Diffusion Forcing (Chen et al. 2024) and History-Guided Video Diffusion (Song et
al. 2025) are judged by: a long rollout next to its ground truth, and PSNR/SSIM against time.
Videos are float tensors [T, C, H, W] with C = 1 or 3 and values in [-1, 1], the datasets' range.
"""

from __future__ import annotations

import importlib.util
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import imageio.v3 as iio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from genlab.core.tensors import check_finite  # noqa: E402


def check_video(video: torch.Tensor, name: str = "video") -> None:
    """Raise a ValueError unless ``video`` is a finite [T, C, H, W] tensor, C in {1, 3}, in [-1, 1]."""
    if not isinstance(video, torch.Tensor) or video.ndim != 4 or video.shape[1] not in (1, 3):
        shape = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
        raise ValueError(f"{name} must be a tensor [T, C, H, W] with C = 1 or 3, got {shape}")
    if video.shape[0] < 1 or video.shape[2] < 1 or video.shape[3] < 1:
        raise ValueError(f"{name} is empty: shape {tuple(video.shape)}")
    check_finite(video, name)
    low, high = video.min().item(), video.max().item()
    if low < -1 or high > 1:
        raise ValueError(
            f"{name} must lie in [-1, 1], got [{low:.3g}, {high:.3g}]; clamp it with .clamp(-1, 1)"
        )


def to_uint8(video: torch.Tensor, scale: int = 1) -> np.ndarray:
    """Frames [T, H * scale, W * scale, 3] uint8 (grey repeated to RGB), pixels enlarged ``scale`` times."""
    check_video(video)
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    frames = ((video.detach().float().cpu() + 1) * 127.5).round().to(torch.uint8)
    frames = frames.expand(-1, 3, -1, -1).repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    return frames.permute(0, 2, 3, 1).numpy()


def _has_ffmpeg() -> bool:
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def write_video(video: torch.Tensor, path: str | Path, fps: float = 8.0, scale: int = 1) -> Path:
    """Write a .gif (Pillow) or .mp4 (imageio-ffmpeg, which ships its own ffmpeg binary).

    Pillow merges identical consecutive GIF frames into one longer frame, so a GIF read back may
    hold fewer frames than a video that stands still.
    """
    path = Path(path)
    frames = to_uint8(video, scale)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        iio.imwrite(path, frames, duration=1000 / fps, loop=0)
    elif suffix == ".mp4":
        if not _has_ffmpeg():
            raise ImportError(
                "writing MP4 needs imageio-ffmpeg, a dependency of genlab-video that is missing here "
                "(pip install imageio-ffmpeg); write a .gif instead"
            )
        iio.imwrite(path, frames, plugin="FFMPEG", fps=fps)
    else:
        raise ValueError(f"unknown video format {suffix!r} for {path}: use .gif or .mp4")
    return path


def _join(parts: Sequence[torch.Tensor], dim: int, gap: int) -> torch.Tensor:
    """Concatenate along ``dim`` with white (value 1) strips ``gap`` wide in between."""
    shape = list(parts[0].shape)
    shape[dim] = gap
    white = torch.ones(shape)
    return torch.cat([p for part in parts for p in (part, white)][:-1], dim=dim)


def _checked(videos: Sequence[torch.Tensor], same: str) -> list[torch.Tensor]:
    """Checked videos on the CPU, grey ones repeated to RGB when any is RGB."""
    if len(videos) == 0:
        raise ValueError("need at least one video")
    for i, v in enumerate(videos):
        check_video(v, f"videos[{i}]")
    axes = {"length and height": (0, 2), "length, height and width": (0, 2, 3)}[same]
    if len({tuple(v.shape[a] for a in axes) for v in videos}) != 1:
        raise ValueError(f"videos must share {same}, got shapes {[tuple(v.shape) for v in videos]}")
    channels = max(v.shape[1] for v in videos)
    return [v.detach().float().cpu().expand(-1, channels, -1, -1) for v in videos]


def side_by_side(videos: Sequence[torch.Tensor], gap: int = 1) -> torch.Tensor:
    """Videos [T, C, H, W] of one length and height, joined left to right by white strips."""
    return _join(_checked(videos, "length and height"), dim=3, gap=gap)


def write_side_by_side(
    videos: Sequence[torch.Tensor], path: str | Path, fps: float = 8.0, scale: int = 1
) -> Path:
    """Write e.g. [rollout, ground truth] as one video, left to right."""
    return write_video(side_by_side(videos), path, fps, scale)


def frame_grid(
    videos: torch.Tensor | Sequence[torch.Tensor], every: int | None = None, gap: int = 1, columns: int = 16
) -> torch.Tensor:
    """One image [C, H', W']: a row per video, a column per ``every``-th frame, white strips between.

    ``every=None`` picks the stride that shows the whole video in at most ``columns`` columns, so
    that a short rollout is not cut to two frames and a long one does not run off the page.
    """
    videos = _checked(list(videos), "length, height and width")
    every = frame_stride(videos[0].shape[0], columns) if every is None else every
    if every < 1:
        raise ValueError(f"every must be a positive integer, got {every}")
    rows = [_join(list(v[::every]), dim=2, gap=gap) for v in videos]
    return _join(rows, dim=1, gap=gap)


def frame_stride(length: int, columns: int = 16) -> int:
    """The smallest stride that shows ``length`` frames in at most ``columns`` columns."""
    if columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns}")
    return max(1, -(-length // columns))


def write_grid(
    videos: torch.Tensor | Sequence[torch.Tensor],
    path: str | Path,
    labels: Sequence[str] | None = None,
    every: int | None = None,
    title: str | None = None,
    columns: int = 16,
) -> Path:
    """Save ``frame_grid`` as a PNG, rows labelled with ``labels`` and columns with frame indices.

    The figure is at least 4.5 inches wide and the title wraps to it, so that neither is cut off.
    """
    videos = list(videos)
    if labels is not None and len(labels) != len(videos):
        raise ValueError(f"got {len(labels)} labels for {len(videos)} videos")
    length, _, h, w = videos[0].shape
    every = frame_stride(length, columns) if every is None else every
    grid = to_uint8(frame_grid(videos, every)[None])[0]
    times = range(0, length, every)
    label_width = 0.08 * max((len(label) for label in labels or []), default=0)  # inches for the row labels
    width = max(4.5, grid.shape[1] / 40 + 0.8 + label_width)
    lines = textwrap.wrap(title or "", width=int(width * 11))  # about 11 characters an inch at 10 pt
    fig, ax = plt.subplots(figsize=(width, grid.shape[0] / 40 + 1 + 0.2 * len(lines)), dpi=120)
    ax.imshow(grid, interpolation="nearest")
    ax.set_xticks([(w + 1) * i + w / 2 for i in range(len(times))], [str(t) for t in times], fontsize=6)
    ax.set_yticks([(h + 1) * i + h / 2 for i in range(len(videos))], labels or [""] * len(videos))
    ax.tick_params(length=0)
    ax.set_xlabel("frame")
    for spine in ax.spines.values():
        spine.set_visible(False)
    if lines:
        ax.set_title("\n".join(lines), fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_curves(
    curves: Mapping[str, torch.Tensor],
    path: str | Path,
    ylabel: str = "PSNR (dB)",
    threshold: float | None = None,
    title: str | None = None,
) -> Path:
    """Per-frame metric curves, one line per name, with an optional horizontal threshold."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2), dpi=120)
    for name, curve in curves.items():
        curve = torch.as_tensor(curve).detach().float().cpu()
        if curve.ndim != 1:
            raise ValueError(f"curve {name!r} must be 1-D (one value per frame), got {tuple(curve.shape)}")
        ax.plot(curve.numpy(), lw=1.2, label=name)
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1)
    ax.set(xlabel="frame", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
