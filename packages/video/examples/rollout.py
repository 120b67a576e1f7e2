"""Roll out trained ``diffusion-forcing-video`` runs on held-out sequences and write each rollout as a
GIF next to its ground truth, plus one PSNR-against-frame plot comparing the runs (Chen et al. 2024,
Diffusion Forcing: long rollouts stay stable where teacher forcing and full-sequence diffusion drift).

    uv run python packages/video/examples/rollout.py RUN_DIR [RUN_DIR ...] --n 2 --out rollouts
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genlab.core.run import load_run
from genlab.video.io import plot_curves, write_side_by_side
from genlab.video.metrics import per_frame_psnr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="diffusion-forcing-video run directories")
    p.add_argument("--n", type=int, default=2, help="held-out sequences per run")
    p.add_argument("--out", type=Path, default=Path("rollouts"))
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--scale", type=int, default=4, help="pixel enlargement in the GIF")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    curves, threshold = {}, None
    for run in args.runs:
        recipe, cfg, task, model = load_run(run)
        if recipe.name != "diffusion-forcing-video":
            raise SystemExit(f"{run} is a {recipe.name} run, not a diffusion-forcing-video run")
        samples = task.sample(model, args.n)  # [n, (rollout, truth), context + rollout, C, H, W]
        label = f"{run.name} {cfg.objective} ({cfg.model})"
        gif = write_side_by_side(
            [video for pair in samples for video in pair], args.out / f"{run.name}.gif", args.fps, args.scale
        )
        curves[label] = per_frame_psnr(samples[:, 0, cfg.context :], samples[:, 1, cfg.context :])
        threshold = cfg.psnr_threshold
        print(f"{label}: wrote {gif} (rollout | truth, {args.n} sequences)")
    figure = plot_curves(curves, args.out / "psnr.png", threshold=threshold, title="rollout PSNR vs truth")
    print(f"wrote {figure}")


if __name__ == "__main__":
    main()
