"""Plan one maze episode with a trained Diffuser run (Janner et al., 2022) and plot the plan and the path.

    uv run python packages/robotics/examples/plan_in_maze.py RUN_DIR --start 3,3 --goal 1,1 --out episode.png

RUN_DIR is a ``genlab train diffuser-maze2d`` run; start and goal are free cells (row, col) of its maze.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from genlab.core.errors import RunDirError
from genlab.core.run import load_run
from genlab.robotics import scores
from genlab.robotics.plotting import plot_episodes


def cell(text: str) -> tuple[int, int]:
    try:
        row, col = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a cell is row,col (two integers), got {text!r}") from None
    return row, col


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--start", type=cell, required=True, help="start cell row,col")
    p.add_argument("--goal", type=cell, required=True, help="goal cell row,col")
    p.add_argument("--replan-every", type=int, default=0, help="replanning period in steps (0: plan once)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("episode.png"))
    args = p.parse_args(argv)
    if args.replan_every < 0:
        p.error(f"--replan-every must be >= 0 (0: plan once), got {args.replan_every}")

    if not args.run_dir.is_dir():
        p.error(f"no run directory {args.run_dir}: train one with `genlab train diffuser-maze2d --out runs`")
    try:
        recipe, cfg, task, model = load_run(args.run_dir)
    except RunDirError as err:  # not a run, or no checkpoint yet
        p.error(str(err))
    if recipe.name != "diffuser-maze2d":
        p.error(f"{args.run_dir} is a {recipe.name} run, not a diffuser-maze2d run")
    episode = scores.MazeTask(args.start, args.goal, env_seed=args.seed, policy_seed=args.seed)
    tracker = task.plan_trackers(model, args.replan_every)(
        episode
    )  # the run's planner and controller settings
    try:
        result = scores.evaluate(cfg.maze, lambda _: tracker, [episode])
    except ValueError as err:  # a cell outside the maze or in a wall
        p.error(str(err))
    arrived = f"at step {result.times[0]:.0f}" if result.successes[0] else "never"
    print(
        f"{cfg.maze}: {len(tracker.plans)} plan(s), first of {len(tracker.plans[0][1])} steps; "
        f"return {result.mean_return:.0f}, reached the goal {arrived}"
    )
    plans = [plan for _, plan in tracker.plans]
    path = np.array(tracker.observations)
    figure = plot_episodes(
        cfg.maze,
        plans[:1],
        [path],
        args.out,
        [f"{args.start} -> {args.goal}, return {result.mean_return:.0f}"],
    )
    print(f"wrote {figure}")


if __name__ == "__main__":
    main()
