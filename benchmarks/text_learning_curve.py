"""Learning curves of the five byte-level text models (``text-ar``, ``text-mdlm``, ``text-d3pm``
absorbing and uniform, ``text-dfm``) at several training budgets, against the trivial rows: the
unigram and bigram models of the training bytes scored on the same held-out blocks.

Each (model, budget) is its own run of the recipe's default preset with ``--steps`` set (the
learning rate's cosine decay ends at each budget, so a short run is not a truncated long one).
Results are appended to ``OUT/curve.jsonl`` as they come and a finished (model, budget) is not run
again, so the script can be stopped and restarted. At the end the samplers of the largest budget's
models are timed interleaved (one sample batch of each model per round) and a markdown table is
printed.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/text_learning_curve.py --out /tmp/text-curve
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from interleaved import interleaved, spread

from genlab.core import run
from genlab.core.data.text import load_tokens, ngram_bits_per_byte
from genlab.core.recipe import get_recipe

MODELS = {
    "AR": ("text-ar", {}),
    "MDLM": ("text-mdlm", {}),
    "D3PM absorbing": ("text-d3pm", {"transition": "absorbing"}),
    "D3PM uniform": ("text-d3pm", {"transition": "uniform"}),
    "DFM": ("text-dfm", {}),
}


def train_curve(budgets: list[int], models: list[str], out: Path, preset: str) -> list[dict]:
    """Train every (model, budget) not yet in ``out/curve.jsonl``, smallest budgets first."""
    log = out / "curve.jsonl"
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    for steps in sorted(budgets):
        for model in models:
            if any(r["model"] == model and r["steps"] == steps for r in done):
                continue
            name, extra = MODELS[model]
            recipe = get_recipe(name)
            cfg = recipe.make_config(preset, {**extra, "steps": str(steps)})
            run_dir = run.train(recipe, cfg, preset, out / "runs")
            results = json.loads((run_dir / "eval.json").read_text())
            train_bytes = steps * cfg.batch_size * cfg.length
            record = {
                "model": model,
                "steps": steps,
                "train_bytes": train_bytes,
                "run": str(run_dir),
                **results,
            }
            done.append(record)
            with log.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(f"{model} {steps} steps: {results['bits_per_byte']:.3f} bits/byte", flush=True)
    return done


def trivial_rows(preset: str) -> dict[str, float]:
    """Unigram and bigram bits per byte: plug-in entropies of the training bytes, and the models
    counted on them (add-1/2 smoothing) scored on the recipes' own held-out blocks."""
    recipe = get_recipe("text-ar")
    task = recipe.build(recipe.make_config(preset))
    train = load_tokens(task.cfg.corpus, "train")
    return {
        f"{kind} {where}": ngram_bits_per_byte(train, test, order, alpha)
        for order, kind in ((1, "unigram"), (2, "bigram"))
        for where, test, alpha in (
            ("entropy of train", None, 0.0),
            ("on the held-out blocks", task.test, 0.5),
        )
    }


def sampler_speed(records: list[dict], rounds: int) -> dict[str, list[float]]:
    """Tokens per second of each model's sampler at its largest budget, the models interleaved."""
    samplers = {}
    for model in dict.fromkeys(r["model"] for r in records):
        top = max((r for r in records if r["model"] == model), key=lambda r: r["steps"])
        _, cfg, task, net = run.load_run(Path(top["run"]))
        tokens = cfg.n_samples * cfg.length
        samplers[model] = (tokens, lambda task=task, net=net, n=cfg.n_samples: task.sample(net, n))
    times = interleaved({name: fn for name, (_, fn) in samplers.items()}, rounds=rounds)
    return {name: [samplers[name][0] / s for s in seconds] for name, seconds in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budgets", type=int, nargs="+", default=[150, 500, 1000], help="training steps")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--preset", default="default", help="default on CPU; paper for the GPU-scale model")
    p.add_argument("--out", type=Path, default=Path("runs/text-curve"))
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the speed measurement")
    p.add_argument("--report-only", action="store_true", help="train nothing: the table of OUT/curve.jsonl")
    args = p.parse_args()
    if min(args.budgets) < 1:
        raise SystemExit(f"budgets must be positive step counts, got {args.budgets}")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    budgets = [] if args.report_only else args.budgets
    records = [
        r for r in train_curve(budgets, args.models, args.out, args.preset) if r["model"] in args.models
    ]
    speed = sampler_speed(records, args.rounds)
    budgets = {r["steps"]: r["train_bytes"] for r in sorted(records, key=lambda r: r["steps"])}
    print(f"\n{torch.get_num_threads()} thread(s), torch {torch.__version__}, preset {args.preset}\n")
    print(
        "| model | "
        + " | ".join(f"{s} steps ({b / 1e6:.2f} M bytes)" for s, b in budgets.items())
        + " | tokens/s |"
    )
    print("|---|" + "---|" * (len(budgets) + 1))
    for name, bits in trivial_rows(args.preset).items():
        print(f"| {name} | " + " | ".join(f"{bits:.3f}" for _ in budgets) + " | |")
    for model in args.models:
        cells = {
            r["steps"]: f"{r['bits_per_byte']:.3f} ± {r['bits_per_byte_stderr']:.3f}"
            for r in records
            if r["model"] == model
        }
        row = " | ".join(cells.get(s, "") for s in budgets)
        print(f"| {model} | {row} | {spread(speed[model], '{:.0f}')} |")


if __name__ == "__main__":
    main()
