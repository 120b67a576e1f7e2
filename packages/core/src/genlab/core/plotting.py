"""Figures every run writes: loss curves, 2D sample scatters, image grids."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def read_metrics(path: Path) -> list[dict]:
    """The records of a metrics.jsonl file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_loss(metrics: Path, out: Path) -> Path:
    """Training loss against step (log scale when positive)."""
    rows = [r for r in read_metrics(metrics) if "loss" in r]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1.2)
    if rows and min(r["loss"] for r in rows) > 0:
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="loss", title="training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def scatter_2d(panels: dict[str, torch.Tensor], out: Path, lim: float = 5.0) -> Path:
    """Side-by-side 2D histograms, one panel per named point set."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), dpi=120, squeeze=False)
    for ax, (title, pts) in zip(axes[0], panels.items()):
        pts = pts.detach().float().cpu().numpy()
        ax.hist2d(pts[:, 0], pts[:, 1], bins=120, range=[[-lim, lim], [-lim, lim]], cmap="magma")
        ax.set(title=title, xticks=[], yticks=[], aspect="equal")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def image_grid(
    images: torch.Tensor,
    out: Path,
    nrow: int = 10,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    columns_name: str | None = None,
) -> Path:
    """A grid of images [N, C, H, W] in [0, 1], ``nrow`` to a row, the title wrapped to its width.

    ``columns`` labels each column (e.g. the class every sample of a class-conditional grid was
    drawn for) and ``columns_name`` says what the labels are.
    """
    from torchvision.utils import make_grid

    n_cols = min(nrow, len(images))
    if columns is not None and len(columns) != n_cols:
        raise ValueError(f"got {len(columns)} column labels for a grid {n_cols} images wide")
    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=1, pad_value=1.0)
    width = max(3.0, grid.shape[2] / 40 + 1)
    lines = textwrap.wrap(title or "", width=int(width * 10))  # about 10 characters an inch at 12 pt
    fig, ax = plt.subplots(figsize=(width, grid.shape[1] / 40 + 1 + 0.2 * len(lines)), dpi=120)
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest", cmap="gray")
    ax.set_axis_off()
    if columns is not None:
        ax.set_axis_on()
        width = images.shape[-1] + 1  # make_grid's cell: the image and one padding pixel
        ax.set_xticks([1 + width * i + (width - 1) / 2 for i in range(n_cols)], list(columns), fontsize=8)
        ax.set_yticks([])
        ax.tick_params(length=0)
        ax.set_xlabel(columns_name or "")
        for spine in ax.spines.values():
            spine.set_visible(False)
    if lines:
        ax.set_title("\n".join(lines))
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
