"""EDM's training step with random batches vs batches grouped by molecule size.

EDM's networks run on molecules padded to the largest in the batch, at O(N^2) cost per layer over
all atom pairs. The QM9-like set has 3-29 atoms (mean 18.7), so a random batch of 64 is padded to
~27 atoms and pays for ~2x the pairs it uses. ``genlab.core.trainer.SizedTensorDataset`` makes the
trainer group batches by size (``group_by_size``); this times one optimiser step of the recipe's
loss on batches drawn both ways, through the trainer's own ``Batches``.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/edm_batching.py --steps 30 [--denoiser e3nn]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import TensorDataset

from genlab.core.distributed import DistInfo
from genlab.core.trainer import Batches
from genlab.molecules.recipes.edm_qm9like import RECIPE


def step_ms(task, dataset, steps: int, batch: int) -> tuple[float, float]:
    """Median ms per Adam step and mean padded atoms per batch over ``steps`` batches."""
    batches = Batches(dataset, batch, DistInfo(0, 1, torch.device("cpu")), seed=0)
    opt = torch.optim.Adam(task.model.parameters(), 1e-4)
    times, padded = [], []
    for step in range(steps):
        pos, types = batches(step)
        padded.append(float((types >= 0).sum(1).max()))
        start = time.perf_counter()
        loss, _ = task.loss(task.model, (pos, types))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[2:]), statistics.fmean(padded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--hidden", default="64")
    parser.add_argument("--layers", default="4")
    parser.add_argument("--denoiser", default="egnn", choices=["egnn", "e3nn", "transformer"])
    args = parser.parse_args()
    torch.manual_seed(0)
    task = RECIPE.build(
        RECIPE.make_config(
            "default", {"hidden": args.hidden, "layers": args.layers, "denoiser": args.denoiser}
        )
    )
    grouped = task.train_set
    plain = TensorDataset(*grouped.tensors)
    print(
        f"{args.denoiser} {args.hidden} x {args.layers}, batch {task.cfg.batch_size}, torch threads {torch.get_num_threads()}"
    )
    results = {}
    for name, data in (("random", plain), ("grouped by size", grouped)):
        results[name] = step_ms(task, data, args.steps, task.cfg.batch_size)
        print(
            f"{name:>16}: {results[name][0]:7.1f} ms/step, padded to {results[name][1]:.1f} atoms on average"
        )
    print(f"speed-up: {results['random'][0] / results['grouped by size'][0]:.2f}x")


if __name__ == "__main__":
    main()
