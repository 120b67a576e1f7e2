"""The ``genlab`` command: list, train, sample and eval recipes from every installed package.

Start-up stays light: ``list``, a mistyped name and ``--help`` read the catalogue without importing
any recipe; the other commands import only the recipe they run (and so torch and that recipe's own
package, never the other packages' stacks).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import time
import types
import typing
import warnings
from pathlib import Path

from genlab.core import catalog
from genlab.core.errors import GenlabError, TrainingStopped

SHOWN_RESULTS = 8  # headline numbers printed after training or evaluation; the rest are in eval.json


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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def summary(title: str, run_dir: Path, results: dict) -> str:
    """The headline numbers of an evaluation and where everything else is, for the terminal."""
    numbers = [(k, v) for k, v in results.items() if k != "eval_seconds"]
    width = max((len(k) for k, _ in numbers[:SHOWN_RESULTS]), default=0)
    lines = [title]
    lines += [
        f"  {k:<{width}}  {v:.6g}" if isinstance(v, float) else f"  {k:<{width}}  {v}"
        for k, v in numbers[:SHOWN_RESULTS]
    ]
    if len(numbers) > SHOWN_RESULTS:
        lines.append(f"  ... {len(numbers) - SHOWN_RESULTS} more in {run_dir / 'eval.json'}")
    lines.append(f"report: {run_dir / 'report.md'}")
    return "\n".join(lines)


def recipe_help(name: str) -> str:
    """Every config field of a recipe: type, default, the presets' values and its meaning."""
    from genlab.core.recipe import field_docs, get_recipe
    from genlab.core.trainer import TrainConfig

    recipe = get_recipe(name)
    docs, kinds = field_docs(recipe.config), typing.get_type_hints(recipe.config)
    shared = {f.name for f in dataclasses.fields(TrainConfig)}
    defaults = recipe.make_config("default")
    lines = [
        f"usage: genlab train {name} [--preset {{{','.join(catalog.PRESETS)}}}] [--out DIR] "
        "[--resume RUN_DIR] [--FIELD VALUE ...]",
        "",
        recipe.description,
        "",
        "options:",
        "  --preset P       smoke (seconds), default (minutes on a laptop CPU) or paper (the paper's sizes, a GPU)",
        "  --out DIR        runs go to DIR/<recipe>/<stamp>, with DIR/<recipe>/latest naming the newest (default: runs)",
        "  --resume RUN     continue RUN from its latest checkpoint, with its saved config",
    ]
    for title, own in ((f"{name}'s fields", True), ("training fields (shared by every recipe)", False)):
        lines += ["", f"{title}:"]
        for f in dataclasses.fields(recipe.config):
            if (f.name in shared) == own:
                continue
            presets = [
                f"{p} {_show(recipe.presets[p][f.name])}"
                for p in catalog.PRESETS
                if p in recipe.presets and f.name in recipe.presets[p]
            ]
            lines.append(
                f"  --{f.name} {_type_name(kinds[f.name])}  default {_show(getattr(defaults, f.name))}"
            )
            lines.append(f"      {docs.get(f.name) or '(no description)'}")
            if presets:
                lines.append(f"      presets: {'; '.join(presets)}")
    return "\n".join(lines)


def _type_name(kind) -> str:
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        return "{" + ",".join(map(str, typing.get_args(kind))) + "}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join("none" if a is type(None) else _type_name(a) for a in typing.get_args(kind))
    return getattr(kind, "__name__", str(kind))


def _show(value) -> str:
    return repr(value) if isinstance(value, str) and (not value or " " in value) else str(value)


def cmd_list(_args, _extra) -> None:
    entries = catalog.installed()
    if not entries:
        print("no recipes installed")
        return
    width = max(len(n) for n in entries)
    pkg_width = max(len(e.package) for e in entries.values())
    for name, entry in entries.items():
        print(f"{name:<{width}}  {entry.package:<{pkg_width}}  {entry.description}")
    print(
        "genlab train RECIPE --help lists a recipe's fields and presets", file=sys.stderr
    )  # stdout: one recipe a line


def cmd_train(args, extra) -> None:
    if args.help or not args.recipe:
        print(recipe_help(catalog.entry(args.recipe).name) if args.recipe else TRAIN_USAGE)
        return
    catalog.entry(args.recipe)  # an unknown name fails before torch is imported
    from genlab.core.recipe import get_recipe
    from genlab.core.run import saved_config, train

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
    results = json.loads((run_dir / "eval.json").read_text()) if (run_dir / "eval.json").exists() else {}
    print(summary(f"trained {recipe.name}: {run_dir}", run_dir, results))


def cmd_sample(args, extra) -> None:
    import torch

    from genlab.core.run import load_run, resolve_run_dir, whole_files_only

    run_dir = resolve_run_dir(Path(args.run_dir))
    overrides = _field_pairs(extra) | ({"seed": str(args.seed)} if args.seed is not None else {})
    _, cfg, task, model = load_run(run_dir, overrides)
    out = Path(args.out) if args.out else _fresh(run_dir / "sampled" / time.strftime("%Y%m%d-%H%M%S"), ".png")
    if out.exists():
        raise ValueError(f"{out} exists: genlab never overwrites a result; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    torch.manual_seed(cfg.seed)
    samples = task.sample(model, args.n)  # not under no_grad: guidance may differentiate
    with whole_files_only(out.parent):
        task.save_samples(samples, out)
        if args.raw:
            _save_raw(samples, out.with_suffix(".safetensors"))
    written = sorted(p for p in out.parent.iterdir() if p.is_file() and p.stat().st_mtime >= started - 1)
    print(f"{args.n} samples of {run_dir} (seed {cfg.seed}) written to:")
    print("\n".join(f"  {p}" for p in written))


def _fresh(stem: Path, suffix: str) -> Path:
    """``stem + suffix``, or with -1, -2, ... appended until no file of that name exists."""
    path, n = stem.with_name(stem.name + suffix), 1
    while path.exists() or any(path.parent.glob(path.stem + ".*")):
        path, n = stem.with_name(f"{stem.name}-{n}{suffix}"), n + 1
    return path


def _save_raw(samples, path: Path) -> None:
    """The samples as tensors in safetensors, for analysis outside genlab."""
    import torch
    from safetensors.torch import save_file

    if isinstance(samples, torch.Tensor):
        samples = {"samples": samples}
    if not (isinstance(samples, dict) and all(isinstance(v, torch.Tensor) for v in samples.values())):
        raise ValueError("this recipe's samples are not tensors; its figure and own files hold them")
    save_file({k: v.detach().cpu().contiguous() for k, v in samples.items()}, str(path))


def cmd_eval(args, extra) -> None:
    from genlab.core.run import evaluate_run, resolve_run_dir

    run_dir = resolve_run_dir(Path(args.run_dir))
    results = evaluate_run(run_dir, _field_pairs(extra), args.out)
    print(summary(f"evaluated {run_dir}", Path(args.out) if args.out else run_dir, results))


TRAIN_USAGE = """usage: genlab train RECIPE [--preset {smoke,default,paper}] [--out DIR] [--resume RUN_DIR] [--FIELD VALUE ...]

Train RECIPE (genlab list shows them) into DIR/RECIPE/<stamp>/. Any config field is set as
--field value; genlab train RECIPE --help lists them with their defaults, presets and meanings."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genlab", description="Train, sample and evaluate genlab recipes.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list installed recipes").set_defaults(fn=cmd_list)
    t = sub.add_parser(
        "train", help="train a recipe: genlab train RECIPE [--preset P] [--field value ...]", add_help=False
    )
    t.add_argument("recipe", nargs="?")
    t.add_argument("-h", "--help", action="store_true", help="list the recipe's fields and presets")
    t.add_argument("--preset", default="default", choices=catalog.PRESETS)
    t.add_argument("--out", default="runs", help="parent of the run directory (default: runs)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its latest checkpoint")
    t.set_defaults(fn=cmd_train)
    s = sub.add_parser(
        "sample",
        help="draw samples from a trained run",
        description="Draw samples from a run's EMA weights into a new file. Sampling settings are the "
        "run's config fields (e.g. --sample_steps 20, --nfe 10, --sampler heun, --method rk4, --guidance 2; "
        "genlab train RECIPE --help lists them).",
    )
    s.add_argument("run_dir", help="a run directory, or a recipe folder (its latest run)")
    s.add_argument("--n", type=_positive, default=100, help="how many samples (default 100)")
    s.add_argument("--seed", type=int, help="random seed (default: the run's)")
    s.add_argument("--out", help="figure path (default: RUN_DIR/sampled/<stamp>.png; never overwritten)")
    s.add_argument("--raw", action="store_true", help="also save the samples as tensors (.safetensors)")
    s.set_defaults(fn=cmd_sample)
    e = sub.add_parser(
        "eval",
        help="re-evaluate a trained run (rewrites its eval.json and report.md); "
        "genlab eval RUN_DIR --out DIR --field value ... evaluates with changed fields into DIR",
    )
    e.add_argument("run_dir", help="a run directory, or a recipe folder (its latest run)")
    e.add_argument("--out", help="write eval.json, report.md and figures here (needed with --field value)")
    e.set_defaults(fn=cmd_eval)
    return p


def quiet_third_party_warnings() -> None:
    """Other libraries' notices (torch.jit deprecations from torch_geometric, gymnasium-robotics' Adroit
    note) say nothing to a genlab user; genlab's own warnings still show."""
    for module in ("torch_geometric", "torch.jit", "gymnasium", "gymnasium_robotics", "e3nn", "nerfstudio"):
        warnings.filterwarnings("ignore", module=module)
    if importlib.util.find_spec("farama_notifications"):  # printed on import, about Adroit (not used here)
        import farama_notifications

        farama_notifications.notifications.pop("gymnasium_robotics", None)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if extra and args.command not in ("train", "sample", "eval"):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    quiet_third_party_warnings()
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
