"""Figures every run writes: loss curves, 2D sample scatters, image grids."""

from __future__ import annotations

import json
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


def image_grid(images: torch.Tensor, out: Path, nrow: int = 10, title: str | None = None) -> Path:
    """A grid of images [N, C, H, W] in [0, 1]."""
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=1, pad_value=1.0)
    fig, ax = plt.subplots(figsize=(grid.shape[2] / 40 + 1, grid.shape[1] / 40 + 1), dpi=120)
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest", cmap="gray")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
