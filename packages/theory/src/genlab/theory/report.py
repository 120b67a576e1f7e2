"""``genlab-theory report``: run the theory recipes and gather their figures, numbers and verdicts
into one markdown page (docs/theory.md).

Each section comes from the newest run directory of a recipe: its claims.json (claims and verdicts),
eval.json (numbers) and every figure it wrote. Figures are copied next to the page so that the page
stays valid when the runs are deleted.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from genlab.core.recipe import get_recipe
from genlab.core.run import train

EXPERIMENTS = (
    "theory-bsm",
    "theory-ambient",
    "theory-bridges",
    "theory-interpolants",
    "theory-rectified-flow",
    "theory-spectral",
    "theory-schedules",
)


def latest_run(runs: Path, recipe: str) -> Path | None:
    """The newest finished run (one with claims.json and eval.json) of ``recipe`` under ``runs``."""
    done = [
        d
        for d in sorted((runs / recipe).glob("*"))
        if (d / "claims.json").is_file() and (d / "eval.json").is_file()
    ]
    return done[-1] if done else None


def _number(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def section(run_dir: Path, recipe: str, figures: Path, page: Path) -> str:
    """The markdown section of one experiment, copying its figures under ``figures/recipe``."""
    claims = json.loads((run_dir / "claims.json").read_text())
    numbers = json.loads((run_dir / "eval.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    dest = figures / recipe
    dest.mkdir(parents=True, exist_ok=True)
    images = []
    for png in sorted(run_dir.glob("*.png"), key=lambda p: (p.name != "samples.png", p.name)):
        if png.name != "loss.png":
            shutil.copyfile(png, dest / png.name)
            images.append(f"![{png.stem}]({(dest / png.name).relative_to(page.parent).as_posix()})")
    verdicts = "\n".join(
        f"| {c['statement']} | {'supported' if c['supported'] else '**not supported**'} | {c['evidence']} |"
        for c in claims["claims"]
    )
    rows = "\n".join(f"| {k} | {_number(v)} |" for k, v in numbers.items())
    return f"""## {claims["title"]}

{claims["setup"]}

`uv run genlab train {recipe} --preset {config["preset"]}`

| claim | verdict | evidence |
|---|---|---|
{verdicts}

{chr(10).join(images)}

<details><summary>All numbers ({recipe}, {config["preset"]} preset)</summary>

| number | value |
|---|---|
{rows}

</details>
"""


def write_page(runs: Path, out: Path) -> Path:
    """Write ``out`` from the newest runs; experiments never run are listed as such."""
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = out.parent / out.stem
    parts = [
        "# Theory experiments\n\nEach section tests a claim of a theory paper in the seed notes with exact "
        "oracles where possible, and says whether our measurement supports it. Regenerate with "
        "`uv run genlab-theory report --run default` (or `--runs DIR` to collect existing runs).\n"
    ]
    rows, sections = [], []
    for recipe in EXPERIMENTS:
        run_dir = latest_run(runs, recipe)
        if run_dir is None:
            rows.append(f"| {recipe} | not run yet |")
            sections.append(f"## {recipe}\n\nNot run yet.\n")
            continue
        claims = json.loads((run_dir / "claims.json").read_text())["claims"]
        rows.append(f"| {recipe} | {sum(c['supported'] for c in claims)} of {len(claims)} claims supported |")
        sections.append(section(run_dir, recipe, figures, out))
    summary = "| experiment | verdicts |\n|---|---|\n" + "\n".join(rows) + "\n"
    out.write_text("\n".join([*parts, summary, *sections]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="genlab-theory", description="Run and report the theory experiments.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("report", help="(re)run the experiments and write docs/theory.md")
    r.add_argument("--runs", type=Path, default=Path("runs"), help="where run directories live")
    r.add_argument("--out", type=Path, default=Path("docs/theory.md"))
    r.add_argument(
        "--run", choices=("smoke", "default", "paper"), help="train every experiment with this preset first"
    )
    r.add_argument("--only", nargs="*", choices=EXPERIMENTS, help="restrict --run to these experiments")
    args = p.parse_args(argv)
    if args.run:
        for name in args.only or EXPERIMENTS:
            recipe = get_recipe(name)
            train(recipe, recipe.make_config(args.run), args.run, out=args.runs)
    print(write_page(args.runs, args.out))
    return 0
