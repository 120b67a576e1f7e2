"""``genlab-molecules data build|stats``: embed the shipped QM9-like set once (ETKDGv3 + MMFF, cached).

The EDM recipe (Hoogeboom et al. 2022) trains on these conformers; building them up front, in
parallel, keeps the first training run from paying for it. ``stats`` prints EDM's metrics on
them: the "data" row that bounds what a model trained on them can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from genlab.molecules.conformers import build_conformers, default_cache_dir
from genlab.molecules.dataset import qm9like_dataset
from genlab.molecules.metrics import edm_metrics
from genlab.molecules.smiles_sets import load_qm9like


def cmd_build(args) -> None:
    smiles = load_qm9like(args.limit)
    confs = build_conformers(smiles, cache_dir=args.cache_dir, n_workers=args.workers, seed=args.seed)
    print(f"{len(confs)} of {len(smiles)} molecules embedded ({len(confs.failed)} failed) -> {confs.path}")


def cmd_stats(args) -> None:
    data = qm9like_dataset(args.limit, cache_dir=args.cache_dir, n_workers=args.workers, seed=args.seed)
    table = edm_metrics(list(data), reference_smiles=[d.smiles for d in data])
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in table.items()}, indent=1))


def positive_int(text: str) -> int:
    """An argparse type for counts: a negative --limit would otherwise slice off the end of the set."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genlab-molecules", description="Data tools of genlab-molecules.")
    sub = p.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="offline molecule data").add_subparsers(dest="action", required=True)
    b = data.add_parser("build", help="ETKDGv3 + MMFF conformers of the shipped QM9-like set, cached")
    s = data.add_parser("stats", help="EDM's metrics on those conformers: the 'data' row")
    for a in (b, s):
        a.add_argument("--limit", type=positive_int, help="only the first N molecules of the set")
        a.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1), help="processes")
        a.add_argument("--seed", type=int, default=0)
        a.add_argument("--cache-dir", help=f"cache directory (default {default_cache_dir()})")
    b.set_defaults(fn=cmd_build)
    s.set_defaults(fn=cmd_stats)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"genlab-molecules: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
