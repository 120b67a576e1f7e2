"""EDM's training step with random batches vs batches grouped by molecule size.

EDM's networks run on molecules padded to the largest in the batch, at O(N^2) cost per layer over
all atom pairs. The QM9-like set has 3-29 atoms (mean 18.7), so a random batch of 64 is padded to
~27 atoms and pays for ~2x the pairs it uses. ``genlab.core.trainer.SizedTensorDataset`` makes the
trainer group batches by size (``group_by_size``); this times one optimiser step of the recipe's
loss on batches drawn both ways, through the trainer's own ``Batches``, interleaved in one process
(random batch i, grouped batch i, random batch i + 1, ...): medians with [min, max], and the
speed-up as the median of the per-step ratios.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/edm_batching.py --steps 30 [--denoiser e3nn]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from interleaved import interleaved, ratios, spread
from torch.utils.data import TensorDataset

from genlab.core.distributed import DistInfo
from genlab.core.trainer import Batches
from genlab.molecules.recipes.edm_qm9like import RECIPE


def timed_steps(task, datasets: dict, steps: int, batch: int, warmup: int = 2):
    """Seconds per Adam step on each dataset's batches (drawn beforehand, untimed), the datasets
    alternating step by step, and the mean padded atoms per batch of each."""
    opt = torch.optim.Adam(task.model.parameters(), 1e-4)
    info = DistInfo(0, 1, torch.device("cpu"))
    queues = {}
    for name, data in datasets.items():
        draw = Batches(data, batch, info, seed=0)
        queues[name] = [draw(step) for step in range(warmup + steps)]
    padded = {
        name: statistics.fmean(float((t >= 0).sum(1).max()) for _, t in q) for name, q in queues.items()
    }

    def train_step(name):
        loss, _ = task.loss(task.model, queues[name].pop(0))
        opt.zero_grad()
        loss.backward()
        opt.step()

    times = interleaved({name: lambda name=name: train_step(name) for name in datasets}, steps, warmup)
    return times, padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--hidden", default="64")
    parser.add_argument("--layers", default="4")
    parser.add_argument("--denoiser", default="egnn", choices=["egnn", "e3nn", "transformer"])
    parser.add_argument("--molecules", default="0", help="the first N shipped molecules (0: all 21.5k)")
    args = parser.parse_args()
    torch.manual_seed(0)
    task = RECIPE.build(
        RECIPE.make_config(
            "default",
            {
                "hidden": args.hidden,
                "layers": args.layers,
                "denoiser": args.denoiser,
                "n_molecules": args.molecules,
            },
        )
    )
    grouped = task.train_set
    print(
        f"{args.denoiser} {args.hidden} x {args.layers}, batch {task.cfg.batch_size}, "
        f"{len(grouped)} training molecules, torch threads {torch.get_num_threads()}"
    )
    times, padded = timed_steps(
        task,
        {"random": TensorDataset(*grouped.tensors), "grouped by size": grouped},
        args.steps,
        task.cfg.batch_size,
    )
    for name, seconds in times.items():
        ms = [1000 * t for t in seconds]
        print(f"{name:>16}: {spread(ms, '{:.1f}')} ms/step, padded to {padded[name]:.1f} atoms on average")
    print(f"speed-up (per-step ratios): {spread(ratios(times, 'random', 'grouped by size'), '{:.2f}')}x")


if __name__ == "__main__":
    main()
