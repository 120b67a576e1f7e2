"""The policies that need no training, on the tasks the Diffuser recipes evaluate: random, the waypoint
controller (the expert) and the tracking controller driving straight at the goal, on both task splits.

    uv run python packages/robotics/examples/maze_baselines.py --maze medium

Prints a markdown table (D4RL score, success, time to goal and path ratio over the episodes that arrive).
With the recipe's defaults (--episodes 50 --seed 0 --gain 10) the tasks are diffuser-maze2d's own.
"""

from __future__ import annotations

import argparse

from genlab.robotics import scores
from genlab.robotics.mazes import ENV_IDS


def table(maze: str, episodes: int, seed: int, gain: float) -> str:
    rows = ["| split | policy | score | success (arrivals) | time to goal | path ratio | return |"]
    rows.append("|---|---|---|---|---|---|---|")
    splits = {"random tasks": scores.make_tasks, "hard tasks": scores.hard_tasks}
    for split, make_tasks in splits.items():
        tasks = make_tasks(maze, episodes, seed)
        policies = {
            "random": scores.random_policy,
            "waypoint controller (expert)": scores.expert_policy(maze),
            f"straight to goal (k_p = {gain:g})": scores.straight_policy((gain, 1.0)),
        }
        evals = {name: scores.evaluate(maze, make, tasks) for name, make in policies.items()}
        low, high = evals["random"].mean_return, evals["waypoint controller (expert)"].mean_return
        for name, ev in evals.items():
            score = scores.normalized_score(ev.mean_return, low, high)
            time = "-" if ev.mean_time_to_goal is None else f"{ev.mean_time_to_goal:.1f}"
            ratio = "-" if ev.mean_path_ratio is None else f"{ev.mean_path_ratio:.2f}"
            rows.append(
                f"| {split} | {name} | {score:.1f} | {ev.success_rate:.2f} ({ev.arrivals}) | {time} | {ratio} "
                f"| {ev.mean_return:.1f} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--maze", default="umaze", choices=sorted(ENV_IDS))
    p.add_argument("--episodes", type=int, default=50, help="tasks per split (the recipe's n_episodes)")
    p.add_argument("--seed", type=int, default=0, help="the recipe's eval_seed")
    p.add_argument("--gain", type=float, default=10.0, help="k_p of the straight-to-goal controller")
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error(f"--episodes must be >= 1, got {args.episodes}")
    print(table(args.maze, args.episodes, args.seed, args.gain))


if __name__ == "__main__":
    main()
