"""Training and sampling throughput of the video recipes, in frames per second, at 1 and 2 threads.

Each row builds a recipe's task at its default sizes (untrained weights: the cost of a step does not
depend on them) and measures what its evaluation reports: training frames/s (loss, backward and an
AdamW step on a batch of clips, ``train_throughput``) and sampling frames/s (a rollout from held-out
contexts with the objective's own sampling plan, ``generate``). Teacher forcing samples one frame per
window, full-sequence and Diffusion Forcing a chunk of 8; history guidance batches its passes.

    uv run --no-sync python benchmarks/video_throughput.py --threads 1,2
"""

from __future__ import annotations

import argparse

import torch

from genlab.video.recipes.dfot import RECIPE as DFOT
from genlab.video.recipes.diffusion_forcing import RECIPE as DF

ROWS = {  # key: (what it is, recipe, config overrides); a DFoT row rolls out its one guidance setting
    "df": ("diffusion forcing, ConvGRU", DF, {"objective": "diffusion-forcing"}),
    "tf": ("teacher forcing, ConvGRU", DF, {"objective": "teacher-forcing"}),
    "fs": ("full-sequence, ConvGRU", DF, {"objective": "full-sequence"}),
    "dfot": ("DFoT, U-ViT, conditional", DFOT, {"guidance": "conditional"}),
    "hg": ("DFoT, U-ViT, vanilla history guidance, w = 2", DFOT, {"guidance": "vanilla:2"}),
    "hgf": ("DFoT, U-ViT, fractional history guidance", DFOT, {"guidance": "fractional:2:0.5"}),
}


def measure(key: str, n: int, rollout_factor: int) -> tuple[float, float]:
    """(training frames/s, sampling frames/s) of one row."""
    _, recipe, overrides = ROWS[key]
    torch.manual_seed(0)
    cfg = recipe.make_config("default", overrides | {"rollout_factor": str(rollout_factor)})
    task = recipe.build(cfg)
    model = task.model.eval()
    (guide,) = task.rollout_settings().values()  # the row's one setting; None: unguided
    task.generate(model, 1, guide)  # warm-up
    frames, seconds = task.generate(model, n, guide)
    return task.train_throughput(model, repeats=10), frames.shape[0] * frames.shape[1] / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--n", type=int, default=4, help="held-out sequences rolled out together")
    p.add_argument("--rollout_factor", type=int, default=2, help="rollouts of this many clip lengths")
    p.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows of {list(ROWS)}")
    args = p.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    keys, results = args.rows.split(","), {}
    for t in threads:
        torch.set_num_threads(t)
        for key in keys:
            train, sample = results[key, t] = measure(key, args.n, args.rollout_factor)
            print(
                f"{ROWS[key][0]}, {t} thread(s): train {train:.0f}, sample {sample:.1f} frames/s", flush=True
            )
    head = " | ".join(f"train, {t} thr. | sample, {t} thr." for t in threads)
    print(f"\n| recipe and setting | {head} |\n|---|" + "---|---|" * len(threads))
    for key in keys:
        cells = " | ".join(f"{results[key, t][0]:.0f} | {results[key, t][1]:.1f}" for t in threads)
        print(f"| {ROWS[key][0]} | {cells} |")


if __name__ == "__main__":
    main()
