"""Figures of Diffuser's plans in a maze (Janner et al., 2022, Fig. 1 and 5): walls, sampled plans, the paths
the controller drove, start and goal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from genlab.robotics.mazes import get_maze  # noqa: E402


def draw_maze(ax, maze: str) -> None:
    """The walls of ``maze`` as grey squares, in the env's (x, y) coordinates."""
    layout = get_maze(maze)
    for row, col in np.argwhere(layout.walls):
        x, y = layout.cell_to_xy((row, col))
        ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, color="0.35", lw=0))
    rows, cols = layout.walls.shape
    (x0, y0), (x1, y1) = layout.cell_to_xy((rows - 1, 0)), layout.cell_to_xy((0, cols - 1))
    ax.set(xlim=(x0 - 0.5, x1 + 0.5), ylim=(y0 - 0.5, y1 + 0.5), aspect="equal", xticks=[], yticks=[])


def plot_episodes(
    maze: str,
    plans: Sequence[np.ndarray],
    paths: Sequence[np.ndarray],
    out: Path,
    titles: Sequence[str] | None = None,
    goals: Sequence[np.ndarray] | None = None,
) -> Path:
    """One panel per episode: its plan [H, >= 2] (coloured by time), executed path [T, >= 2] (black), start and
    goals (red stars: ``goals[i]`` [K, 2], by default the plan's end)."""
    n = len(plans)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), dpi=110, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        draw_maze(ax, maze)
        plan, path = np.asarray(plans[i]), np.asarray(paths[i])
        ax.plot(path[:, 0], path[:, 1], color="black", lw=1.0, alpha=0.8, label="executed")
        ax.scatter(plan[:, 0], plan[:, 1], c=np.arange(len(plan)), cmap="viridis", s=4, label="plan")
        stars = plan[-1:, :2] if goals is None else np.atleast_2d(goals[i])
        ax.plot(*path[0, :2], "o", color="tab:blue", ms=6)
        ax.plot(stars[:, 0], stars[:, 1], "*", color="tab:red", ms=11, ls="none")
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    axes.flat[0].legend(loc="lower left", fontsize=6)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return Path(out)
