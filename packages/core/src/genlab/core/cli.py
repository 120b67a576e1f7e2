"""The ``genlab`` command: list, train, sample and eval recipes from every installed package."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genlab.core.errors import GenlabError, TrainingStopped
from genlab.core.recipe import PRESETS, discover, get_recipe
from genlab.core.run import evaluate_run, load_run, saved_config, train


def _field_pairs(extra: list[str]) -> dict[str, str | None]:
    """``--field value`` and ``--field=value`` pairs left over by argparse; a bare ``--field`` maps to
    None, which switches a true/false field on (``parse_fields``)."""
    pairs, i = {}, 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--"):
            raise ValueError(f"unexpected argument {arg!r}: config fields are given as --field value")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
            i += 1
        elif i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            key, value = arg[2:], extra[i + 1]
            i += 2
        else:
            key, value = arg[2:], None
            i += 1
        pairs[key] = value
    return pairs


def cmd_list(_args, _extra) -> None:
    recipes = discover()
    if not recipes:
        print("no recipes installed")
        return
    width = max(len(n) for n in recipes)
    pkg_width = max(len(r.package) for r in recipes.values())
    for name, recipe in recipes.items():
        print(f"{name:<{width}}  {recipe.package:<{pkg_width}}  {recipe.description}")


def cmd_train(args, extra) -> None:
    recipe = get_recipe(args.recipe)
    if args.resume:
        if extra:
            raise ValueError(f"--resume continues a run with its saved config; drop {' '.join(extra)}")
        saved_recipe, cfg, preset = saved_config(Path(args.resume))
        if saved_recipe != recipe.name:
            raise ValueError(f"{args.resume} is a {saved_recipe} run, not {recipe.name}")
    else:
        cfg = recipe.make_config(args.preset, _field_pairs(extra))
        preset = args.preset
    run_dir = train(recipe, cfg, preset, out=Path(args.out), run_dir=args.resume)
    print(f"run directory: {run_dir}")
    if (run_dir / "eval.json").exists():
        print(json.dumps(json.loads((run_dir / "eval.json").read_text()), indent=1))


def cmd_sample(args, _extra) -> None:
    _, _, task, model = load_run(Path(args.run_dir))
    out = Path(args.out) if args.out else Path(args.run_dir) / "samples.png"
    figure = task.save_samples(task.sample(model, args.n), out)
    print(f"wrote {figure}")


def cmd_eval(args, extra) -> None:
    results = evaluate_run(Path(args.run_dir), _field_pairs(extra), args.out)
    print(json.dumps(results, indent=1))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genlab", description="Train, sample and evaluate genlab recipes.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list installed recipes").set_defaults(fn=cmd_list)
    t = sub.add_parser("train", help="train a recipe: genlab train RECIPE [--preset P] [--field value ...]")
    t.add_argument("recipe")
    t.add_argument("--preset", default="default", choices=PRESETS)
    t.add_argument("--out", default="runs", help="parent of the run directory (default: runs)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its latest checkpoint")
    t.set_defaults(fn=cmd_train)
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run_dir")
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--out", help="figure path (default: RUN_DIR/samples.png)")
    s.set_defaults(fn=cmd_sample)
    e = sub.add_parser(
        "eval",
        help="re-evaluate a trained run (rewrites its eval.json and report.md); "
        "genlab eval RUN_DIR --out DIR --field value ... evaluates with changed fields into DIR",
    )
    e.add_argument("run_dir")
    e.add_argument("--out", help="write eval.json, report.md and figures here (needed with --field value)")
    e.set_defaults(fn=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if extra and args.command not in ("train", "eval"):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        args.fn(args, extra)
    except TrainingStopped as err:  # SIGTERM or SIGINT: the step finished and was saved
        print(f"genlab: {err}", file=sys.stderr)
        return 128 + err.signum
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside training
        print("genlab: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FloatingPointError, GenlabError, OSError) as err:  # OSError: a full disk, ...
        print(f"genlab: error: {err}", file=sys.stderr)
        return 2
    return 0
