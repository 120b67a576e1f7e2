"""Generate 3D molecules with EDM (Hoogeboom et al. 2022) and score them with EDM's metrics.

Either load a trained ``edm-qm9like`` run, or train one first (the ``smoke`` preset takes seconds and
gives chemically poor molecules; ``default`` takes about 46 minutes on one thread of a 2-core CPU):

    uv run python packages/molecules/examples/generate_molecules.py --preset smoke --n 16
    uv run python packages/molecules/examples/generate_molecules.py --run runs/edm-qm9like/<stamp> --n 100

It writes molecules.sdf (coordinates and distance-inferred bonds), molecules.png (RDKit drawings)
and molecules_3d.png into --out, and prints atom / molecule stability, validity and uniqueness,
beside the same metrics on as many training geometries (the "data" row: the ceiling for this set).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genlab.core.recipe import get_recipe
from genlab.core.run import load_run, train
from genlab.molecules.metrics import edm_metrics
from genlab.molecules.recipes.edm_qm9like import unpack_samples


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a trained edm-qm9like run directory (default: train one first)")
    p.add_argument("--preset", default="smoke", choices=("smoke", "default", "paper"))
    p.add_argument("--denoiser", default="egnn", choices=("egnn", "e3nn", "transformer"))
    p.add_argument("--n", type=int, default=16, help="molecules to generate")
    p.add_argument("--out", default="edm_molecules", help="output directory")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error(f"--n must be >= 1, got {args.n}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run_dir = args.run
    if run_dir is None:
        recipe = get_recipe("edm-qm9like")
        cfg = recipe.make_config(args.preset, {"denoiser": args.denoiser})
        run_dir = train(recipe, cfg, args.preset, out=out / "runs")
    _, _, task, model = load_run(Path(run_dir))
    samples = task.sample(model, args.n)
    figure = task.save_samples(samples, out / "molecules.png")
    metrics = edm_metrics(unpack_samples(samples), train_smiles=task.train_smiles)
    metrics.update({f"data_{k}": v for k, v in task.data_row(args.n).items()})
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}, indent=1))
    print(f"wrote {figure}, {figure.with_suffix('.sdf')} and {figure.with_name(figure.stem + '_3d.png')}")


if __name__ == "__main__":
    main()
