"""D4RL's normalised score (Fu et al., 2020), with its references measured here, as Diffuser reports it.

Janner et al. (2022) report Maze2D results as D4RL's

    score = 100 (R - R_random) / (R_expert - R_random),

R the undiscounted return of an episode. D4RL's reference returns (U-Maze 23.85 / 161.86, ...) were measured
in mujoco-py's maze2d; PointMaze differs (centred coordinates, reset noise, reward radius 0.45), so both are
measured again under one protocol: the same tasks (start cell, goal cell, seeds) for every policy, episodes of
the env's length (300 / 600 / 800 steps), a random policy (uniform actions) and the waypoint controller.
Beside the score: the success rate (the agent came within ``radius`` of the goal, by default the env's
success radius 0.45, so success means a positive return) and the time to goal in steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from genlab.robotics.controller import WaypointController
from genlab.robotics.mazes import GOAL_RADIUS, get_maze, make_env, reset_to

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (observation [4], goal [2]) -> action [2]


@dataclass(frozen=True)
class Task:
    """One evaluation episode: where the agent starts, where the goal is, and the seeds of env and policy."""

    start_cell: tuple[int, int]
    goal_cell: tuple[int, int]
    env_seed: int
    policy_seed: int


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Per-episode returns, success flags and times to goal (steps; NaN where the goal was never reached)."""

    returns: np.ndarray
    successes: np.ndarray
    times: np.ndarray
    radius: float

    @property
    def mean_return(self) -> float:
        return float(self.returns.mean())

    @property
    def success_rate(self) -> float:
        return float(self.successes.mean())

    @property
    def mean_time_to_goal(self) -> float:
        """Mean over the successful episodes; NaN if none succeeded."""
        return float(self.times[self.successes].mean()) if self.successes.any() else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "episodes": len(self.returns),
            "mean_return": self.mean_return,
            "std_return": float(self.returns.std()),
            "success_rate": self.success_rate,
            "mean_time_to_goal": self.mean_time_to_goal,
            "success_radius": self.radius,
        }


def normalized_score(returns, random_return: float, expert_return: float):
    """``100 (R - R_random) / (R_expert - R_random)``, elementwise over ``returns``."""
    if not expert_return > random_return:
        raise ValueError(f"the expert return {expert_return} must exceed the random return {random_return}")
    return 100.0 * (np.asarray(returns, dtype=np.float64) - random_return) / (expert_return - random_return)


def make_tasks(maze: str, n_episodes: int, seed: int = 0) -> list[Task]:
    """``n_episodes`` tasks with start and goal drawn uniformly from distinct free cells."""
    cells = get_maze(maze).free_cells
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(n_episodes):
        start, goal = rng.choice(len(cells), size=2, replace=False)
        env_seed, policy_seed = (int(s) for s in rng.integers(2**31, size=2))
        tasks.append(Task(tuple(map(int, cells[start])), tuple(map(int, cells[goal])), env_seed, policy_seed))
    return tasks


def random_policy(task: Task) -> Policy:
    """D4RL's ``ref_min`` policy: actions uniform on [-1, 1]^2."""
    rng = np.random.default_rng(task.policy_seed)
    return lambda observation, goal: rng.uniform(-1.0, 1.0, size=2).astype(np.float32)


def expert_policy(maze: str) -> Callable[[Task], Policy]:
    """D4RL's ``ref_max`` policy: the waypoint controller, its jitter seeded by the task."""
    return lambda task: WaypointController(maze, rng=np.random.default_rng(task.policy_seed))


def run_episode(
    env, maze: str, policy: Policy, task: Task, radius: float = GOAL_RADIUS, on_step: Callable | None = None
) -> tuple[float, float]:
    """One episode of ``task`` for the env's full length: (return, first step within ``radius`` of the
    goal or NaN). ``on_step(env)`` is called after the reset and after every step (e.g. to render)."""
    obs, _ = reset_to(env, maze, task.start_cell, task.goal_cell, seed=task.env_seed)
    total, first, step, done = 0.0, np.nan, 0, False
    while not done:
        if on_step is not None:
            on_step(env)
        obs, reward, terminated, truncated, _ = env.step(policy(obs["observation"], obs["desired_goal"]))
        total, step, done = total + float(reward), step + 1, terminated or truncated
        if np.isnan(first) and np.linalg.norm(obs["achieved_goal"] - obs["desired_goal"]) <= radius:
            first = step
    return total, first


def evaluate(
    maze: str, make_policy: Callable[[Task], Policy], tasks: list[Task], radius: float = GOAL_RADIUS
) -> Evaluation:
    """Run a fresh ``make_policy(task)`` on every task for the env's full episode length."""
    env = make_env(maze)
    returns, successes, times = [], [], []
    for task in tasks:
        total, first = run_episode(env, maze, make_policy(task), task, radius)
        returns.append(total)
        successes.append(not np.isnan(first))
        times.append(first)
    env.close()
    return Evaluation(np.array(returns), np.array(successes, dtype=bool), np.array(times), radius)


def reference_scores(maze: str, n_episodes: int = 50, seed: int = 0) -> dict[str, Evaluation]:
    """The random and expert references of ``maze`` on one set of tasks: ``{"random": ..., "expert": ...}``."""
    tasks = make_tasks(maze, n_episodes, seed)
    return {
        "random": evaluate(maze, random_policy, tasks),
        "expert": evaluate(maze, expert_policy(maze), tasks),
    }
