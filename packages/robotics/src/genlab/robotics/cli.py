"""``genlab-robotics``: builds the D4RL-style Maze2D datasets (Fu et al., 2020) that Diffuser trains on.

genlab-robotics data build --maze umaze --steps 100000 [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse

from genlab.robotics.dataset import build_dataset, cache_root, dataset_id
from genlab.robotics.mazes import ENV_IDS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genlab-robotics", description=__doc__.splitlines()[0])
    groups = p.add_subparsers(dest="group", required=True)
    data = groups.add_parser("data", help="datasets").add_subparsers(dest="command", required=True)
    build = data.add_parser(
        "build", help="generate (or find cached) the waypoint-controller dataset of a maze"
    )
    build.add_argument("--maze", required=True, choices=sorted(ENV_IDS))
    build.add_argument(
        "--steps", type=int, default=100_000, help="env steps to record (the recipes' default; D4RL: 1e6)"
    )
    build.add_argument("--seed", type=int, default=0)
    build.add_argument(
        "--out",
        default=None,
        help="cache directory (default $GENLAB_DATA/robotics or ~/.cache/genlab/robotics)",
    )
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error(f"--steps must be >= 1, got {args.steps}")
    data = build_dataset(args.maze, args.steps, args.seed, args.out, progress=not args.quiet)
    episodes = int(data.timeouts.sum())  # every episode ends truncated (see dataset.FLAGS)
    print(
        f"{dataset_id(args.maze, args.steps, args.seed)} in {cache_root(args.out)}: {len(data)} steps, {episodes} episodes"
    )
    return 0
