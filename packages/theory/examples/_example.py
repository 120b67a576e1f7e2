"""What the theory examples share: their command line, the run, and the verdicts they print.

Each example sets small sizes of its recipe (``--preset example``, the default); ``--preset smoke``
runs the recipe's smoke preset instead (about a minute), ``default`` and ``paper`` the recipe's own,
and ``--set FIELD=VALUE`` changes any config field. The run directory goes under ``--out`` (default
``runs/`` in the current directory, as with ``genlab train``) and its path is printed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from genlab.core.recipe import Recipe
from genlab.core.run import train


def run_example(
    recipe: Recipe,
    doc: str,
    sizes: Mapping[str, str],
    figures: Sequence[str] = ("samples.png",),
    argv: list[str] | None = None,
) -> Path:
    """Parse the command line, train ``recipe`` into a new run directory, print its claims' verdicts."""
    p = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], epilog=__doc__.split("\n\n")[1].replace("``", "")
    )
    p.add_argument(
        "--preset",
        default="example",
        choices=("example", "smoke", "default", "paper"),
        help="example: " + ", ".join(f"{k}={v}" for k, v in sizes.items()) + " on the default preset",
    )
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="any config field")
    p.add_argument(
        "--out", type=Path, default=Path("runs"), help="parent of the run directory (default: runs)"
    )
    args = p.parse_args(argv)
    preset = "default" if args.preset == "example" else args.preset
    overrides = dict(sizes) if args.preset == "example" else {}
    for item in args.set:
        field, sep, value = item.partition("=")
        if not sep:
            p.error(f"--set takes FIELD=VALUE, got {item!r}")
        overrides[field] = value
    try:
        cfg = recipe.make_config(preset, overrides)
    except ValueError as err:
        p.error(str(err))
    run_dir = train(recipe, cfg, preset, out=args.out)
    for claim in json.loads((run_dir / "claims.json").read_text())["claims"]:
        verdict = "supported    " if claim["supported"] else "NOT supported"
        print(verdict, claim["statement"], "|", claim["evidence"])
    print("run directory:", run_dir)
    print("figures:", *(str(run_dir / name) for name in figures))
    return run_dir
