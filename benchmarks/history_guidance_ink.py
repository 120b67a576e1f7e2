"""Why history-guided rollouts fade: the ink of the conditional and the empty-history predictions.

History guidance at scale w predicts x0_c + (w - 1) (x0_c - x0_empty) (Song et al. 2025; x0 is affine
in the score at fixed x_t and t). If the empty-history prediction x0_empty carries more ink than the
conditional x0_c, as when the training clips hold one or two digits and the held-out sequence one,
the guided prediction loses ink at every high noise level, and each window of a rollout then
conditions on a fainter digit. This script measures that directly on a trained dfot-video run: the
new frames of the first window of held-out sequences are noised to level t, the history is given
clean (k = 0), at k = 0.5, or empty (k = 1), and the mean ink (x0 + 1) / 2 of the clamped prediction
is printed next to the truth's and that of the vanilla-guided prediction at w = 2.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/history_guidance_ink.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse

import torch

from genlab.core.run import load_run

LEVELS = (0.3, 0.5, 0.7, 0.85, 0.95, 1.0)


def ink(x0: torch.Tensor) -> float:
    return ((x0.clamp(-1, 1) + 1) / 2).mean().item()


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="dfot-video run directories")
    p.add_argument("--n", type=int, default=32, help="held-out sequences")
    p.add_argument("--eval_digits", default="1", help="digits per held-out sequence (0: the training clips')")
    args = p.parse_args()
    for run in args.runs:
        _, cfg, task, model = load_run(run, {"n_eval": str(args.n), "eval_digits": args.eval_digits})
        denoiser = task.denoiser(model)
        window = task.truth[:, : cfg.frames]
        history = cfg.frames - cfg.chunk
        print(f"{run}: truth's new frames {ink(window[:, history:]):.4f}")
        generator = torch.Generator().manual_seed(0)
        for t in LEVELS:
            noise = torch.randn(window.shape, generator=generator)
            x0 = {}
            for k in (0.0, 0.5, 1.0):
                levels = torch.full(window.shape[:2], t)
                levels[:, :history] = k
                alpha, sigma = (s[..., None, None, None] for s in task.schedule.alpha_sigma(levels))
                x0[k] = denoiser.x0(alpha * window + sigma * noise, levels)[:, history:]
            guided = 2 * x0[0.0] - x0[1.0]
            print(
                f"  t = {t:.2f}: history clean {ink(x0[0.0]):.4f}, at 0.5 {ink(x0[0.5]):.4f}, "
                f"empty {ink(x0[1.0]):.4f}; vanilla w = 2 {ink(guided):.4f}"
            )


if __name__ == "__main__":
    main()
