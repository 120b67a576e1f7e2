"""Roll out trained ``diffusion-forcing-video`` or ``dfot-video`` runs on held-out sequences and write
each rollout as a GIF next to its ground truth, plus PSNR-, SSIM- and objects-kept-against-frame plots
comparing the runs (digit identity on moving digits, colour similarity on shapes)
(Chen et al. 2024, Diffusion Forcing: long rollouts stay stable where teacher forcing and full-sequence
diffusion drift; a dfot-video run rolls out once per history-guidance setting).

    uv run python packages/video/examples/rollout.py RUN_DIR [RUN_DIR ...] --n 2 --out rollouts
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genlab.core.run import load_run
from genlab.video.io import plot_curves, write_side_by_side
from genlab.video.metrics import per_frame_psnr, per_frame_ssim


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="diffusion-forcing-video or dfot-video run directories")
    p.add_argument("--n", type=int, default=2, help="held-out sequences per run")
    p.add_argument("--out", type=Path, default=Path("rollouts"))
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--scale", type=int, default=4, help="pixel enlargement in the GIF")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    curves, ssim_curves, kept, threshold = {}, {}, {}, None
    for run in args.runs:
        recipe, cfg, task, model = load_run(run)
        if recipe.name not in ("diffusion-forcing-video", "dfot-video"):
            raise SystemExit(f"{run} is a {recipe.name} run, not a diffusion-forcing-video or dfot-video run")
        samples = task.sample(
            model, args.n
        )  # [n, (rollout per setting..., truth), context + rollout, C, H, W]
        gif = write_side_by_side(
            [video for group in samples for video in group],
            args.out / f"{run.name}.gif",
            args.fps,
            args.scale,
        )
        truth = samples[:, -1, cfg.context :]
        for r, setting in enumerate(task.rollout_settings()):
            name, rolled = f"{run.name} {setting} ({cfg.model})", samples[:, r, cfg.context :]
            curves[name], ssim_curves[name] = per_frame_psnr(rolled, truth), per_frame_ssim(rolled, truth)
            kind, kept_curve, kept_threshold = task.objects_kept(rolled)
            kept.setdefault(kind, ({}, kept_threshold))[0][name] = kept_curve
        print(f"{run.name}: wrote {gif} (rollouts | truth, {args.n} sequences)")
        threshold = cfg.psnr_threshold
    figure = plot_curves(curves, args.out / "psnr.png", threshold=threshold, title="rollout PSNR vs truth")
    ssim = plot_curves(ssim_curves, args.out / "ssim.png", ylabel="SSIM", title="rollout SSIM vs truth")
    print(f"wrote {figure} and {ssim}")
    for kind, (kind_curves, kind_threshold) in kept.items():
        path = args.out / f"{kind}.png"
        plot_curves(
            kind_curves, path, ylabel=kind, threshold=kind_threshold, title=f"rollout {kind} vs truth"
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
