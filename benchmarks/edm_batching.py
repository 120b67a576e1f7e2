"""EDM's training step with random batches vs batches grouped by molecule size.

EDM's networks run on molecules padded to the largest in the batch, at O(N^2) cost per layer over
all atom pairs. The QM9-like set has 3-29 atoms (mean 18.7), so a random batch of 64 is padded to
~27 atoms and pays for ~2x the pairs it uses. ``genlab.core.trainer.SizedTensorDataset`` makes the
trainer group batches by size (``group_by_size``); this times one optimiser step of the recipe's
loss on batches drawn both ways, through the trainer's own ``Batches``, interleaved in one process
(random batch i, grouped batch i, random batch i + 1, ...): medians with [min, max], and the
speed-up as the median of the per-step ratios.

``--denoisers egnn,e3nn,transformer`` also times the denoisers against each other in the same process:
each round is one step of every denoiser on the same random batch, then on the same grouped batch,
and each step time is also given as per-round ratios to the EGNN's on the same batch.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/edm_batching.py --steps 30 [--denoiser e3nn]
    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/edm_batching.py --steps 20 --molecules 3000 --denoisers egnn,e3nn,transformer
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

DENOISERS = ["egnn", "e3nn", "transformer"]


def timed_steps(tasks: dict, datasets: dict, steps: int, batch: int, warmup: int = 2):
    """Seconds per Adam step of each task's model on each dataset's batches (drawn beforehand,
    untimed, the same for every model), all (model, dataset) pairs alternating step by step, and the
    mean padded atoms per batch of each dataset."""
    info = DistInfo(0, 1, torch.device("cpu"))
    queues = {}
    for name, data in datasets.items():
        draw = Batches(data, batch, info, seed=0)
        queues[name] = [draw(step) for step in range(warmup + steps)]
    padded = {
        name: statistics.fmean(float((t >= 0).sum(1).max()) for _, t in q) for name, q in queues.items()
    }

    def train_step(task, data):
        """One step per call, on the dataset's next batch; the task's own Adam."""
        opt, batches = torch.optim.Adam(task.model.parameters(), 1e-4), iter(queues[data])

        def step():
            loss, _ = task.loss(task.model, next(batches))
            opt.zero_grad()
            loss.backward()
            opt.step()

        return step

    contenders = {
        f"{model}, {data}": train_step(task, data) for data in datasets for model, task in tasks.items()
    }
    return interleaved(contenders, steps, warmup), padded


def build(args, denoiser: str):
    """The recipe's task with this denoiser, its weights drawn from seed 0."""
    torch.manual_seed(0)
    overrides = {
        "hidden": args.hidden,
        "layers": args.layers,
        "denoiser": denoiser,
        "n_molecules": args.molecules,
    }
    return RECIPE.build(RECIPE.make_config("default", overrides))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--hidden", default="64")
    parser.add_argument("--layers", default="4")
    parser.add_argument("--denoiser", default="egnn", choices=DENOISERS)
    parser.add_argument(
        "--denoisers", default="", help=f"comma-separated, of {DENOISERS}: time these against each other"
    )
    parser.add_argument("--molecules", default="0", help="the first N shipped molecules (0: all 21.5k)")
    args = parser.parse_args()
    names = args.denoisers.split(",") if args.denoisers else [args.denoiser]
    if set(names) - set(DENOISERS) or len(set(names)) < len(names):
        raise SystemExit(f"--denoisers takes distinct names of {DENOISERS}, got {args.denoisers!r}")
    tasks = {name: build(args, name) for name in names}
    grouped = next(iter(tasks.values())).train_set
    batch = next(iter(tasks.values())).cfg.batch_size
    print(
        f"{', '.join(names)} {args.hidden} x {args.layers}, batch {batch}, "
        f"{len(grouped)} training molecules, torch threads {torch.get_num_threads()}"
    )
    datasets = {"random": TensorDataset(*grouped.tensors), "grouped by size": grouped}
    times, padded = timed_steps(tasks, datasets, args.steps, batch)
    for data in datasets:
        print(f"{data} batches, padded to {padded[data]:.1f} atoms on average")
        for model in names:
            name = f"{model}, {data}"
            ms = spread([1000 * t for t in times[name]], "{:.1f}")
            to_egnn = ""
            if model != "egnn" and "egnn" in names:
                to_egnn = f", {spread(ratios(times, name, f'egnn, {data}'), '{:.2f}')}x the EGNN's"
            print(f"{name:>36}: {ms} ms/step{to_egnn}")
    for model in names:
        a, b = (f"{model}, {data}" for data in datasets)
        print(
            f"{model} speed-up of grouped batches (per-step ratios): {spread(ratios(times, a, b), '{:.2f}')}x"
        )


if __name__ == "__main__":
    main()
