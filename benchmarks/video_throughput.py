"""Training and sampling throughput of the video recipes, in frames per second, at 1 and 2 threads.

Each row builds a recipe's task at its default sizes (untrained weights: the cost of a step does not
depend on them) and measures what its evaluation reports: training frames/s (loss, backward and an
AdamW step on a batch of clips, as ``train_throughput`` times it) and sampling frames/s (a rollout
from held-out contexts with the objective's own sampling plan, ``generate``). Teacher forcing samples
one frame per window, full-sequence and Diffusion Forcing a chunk of 8; history guidance batches its
passes.

Every row's task is built once; then, per thread count, the rows are timed interleaved in one
process (``interleaved.py``): each round runs every row's training step, then every row's rollout,
so all rows see nearly the same load. The table gives medians with [min, max] over the rounds; the
guided DFoT rows are also compared with the conditional one by per-round ratios.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/video_throughput.py --threads 1 --rounds 6
"""

from __future__ import annotations

import argparse
import copy

import torch
from interleaved import interleaved, ratios, spread

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
COMPARED = [("hg", "dfot"), ("hgf", "dfot")]  # (row, baseline): sampling cost ratios the doc quotes


def contenders(key: str, n: int, rollout_factor: int):
    """A row's (training step, frames per step, rollout, frames per rollout), its task built once."""
    _, recipe, overrides = ROWS[key]
    torch.manual_seed(0)
    task = recipe.build(recipe.make_config("default", overrides | {"rollout_factor": str(rollout_factor)}))
    model = task.model.eval()
    (guide,) = task.rollout_settings().values()  # the row's one setting; None: unguided
    net = copy.deepcopy(model).train().requires_grad_(True)
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.0)  # lr 0: every step costs the same
    batch = torch.stack([task.train_set[i] for i in range(task.cfg.batch_size)])

    def train_step():
        optimizer.zero_grad()
        task.loss(net, batch)[0].backward()
        optimizer.step()

    def roll_out():
        return task.generate(model, n, guide)

    return train_step, batch.shape[0] * batch.shape[1], roll_out, n * task.rollout_frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--n", type=int, default=4, help="held-out sequences rolled out together")
    p.add_argument("--rollout_factor", type=int, default=2, help="rollouts of this many clip lengths")
    p.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows of {list(ROWS)}")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds per thread count (1 warm-up)")
    args = p.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    keys = args.rows.split(",")
    unknown = sorted(set(keys) - set(ROWS))
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose from {list(ROWS)}")
    rows = {key: contenders(key, args.n, args.rollout_factor) for key in keys}
    calls = {}  # training steps first, then rollouts: one round runs each once
    for key, (train_step, _, _, _) in rows.items():
        calls[f"train {key}"] = train_step
    for key, (_, _, roll_out, _) in rows.items():
        calls[f"sample {key}"] = roll_out
    fps, cost = {}, {}
    for t in threads:
        torch.set_num_threads(t)
        times = interleaved(calls, rounds=args.rounds)
        for key, (_, train_frames, _, sample_frames) in rows.items():
            fps["train", key, t] = [train_frames / s for s in times[f"train {key}"]]
            fps["sample", key, t] = [sample_frames / s for s in times[f"sample {key}"]]
        for key, base in COMPARED:
            if key in rows and base in rows:
                cost[key, base, t] = ratios(times, f"sample {key}", f"sample {base}")
        print(f"{t} thread(s): {args.rounds} rounds done", flush=True)
    print(
        f"\nframes/s, median [min, max] over {args.rounds} interleaved rounds; "
        f"torch {torch.__version__}, {args.n} rollouts of {args.rollout_factor} clip lengths"
    )
    head = " | ".join(f"train, {t} thr. | sample, {t} thr." for t in threads)
    print(f"| recipe and setting | {head} |\n|---|" + "---|---|" * len(threads))
    for key in keys:
        cells = " | ".join(
            f"{spread(fps['train', key, t], '{:.0f}')} | {spread(fps['sample', key, t], '{:.1f}')}"
            for t in threads
        )
        print(f"| {ROWS[key][0]} | {cells} |")
    for (key, base, t), r in cost.items():
        print(f"sampling time, {ROWS[key][0]} / {ROWS[base][0]}, {t} thread(s): {spread(r, '{:.2f}')}x")


if __name__ == "__main__":
    main()
