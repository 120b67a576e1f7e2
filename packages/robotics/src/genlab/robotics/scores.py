"""D4RL's normalised score (Fu et al., 2020), with its references measured here, as Diffuser reports it.

Janner et al. (2022) report Maze2D results as D4RL's

    score = 100 (R - R_random) / (R_expert - R_random),

R the undiscounted return of an episode. D4RL's reference returns (U-Maze 23.85 / 161.86, ...) were measured
in mujoco-py's maze2d; PointMaze differs (centred coordinates, reset noise, reward radius 0.45), so both are
measured again under one protocol: the same tasks (start cell, goal cell, seeds) for every policy, episodes of
the env's length (300 / 600 / 800 steps), a random policy (uniform actions) and the waypoint controller.
Beside the score: the success rate (the agent came within ``radius`` of the goal, by default the env's
success radius 0.45, so success means a positive return), the time to goal in steps and the path ratio, both
over the episodes that arrive (with their count): the length driven until arrival, plus the straight line left
to the goal from there, over the shortest path that enters no wall (``MazeLayout.geodesic``); 1 is a perfect
route for a point, the ball's radius of 0.1 keeps a real one a little above.

Two task splits: ``make_tasks`` draws start and goal cells uniformly (many pairs see each other, and the point
mass slides along walls, so driving straight at the goal often arrives); ``hard_tasks`` keeps the pairs whose
straight segment crosses a wall and whose shortest path is among the longest, where a policy has to plan.
The trivial baseline is ``straight_policy``: the tracking controller aimed at the goal, no plan at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from genlab.robotics.controller import WaypointController, shortest_path
from genlab.robotics.mazes import GOAL_RADIUS, get_maze, make_env, reset_to
from genlab.robotics.planning import track

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (observation [4], goal [2]) -> action [2]


@dataclass(frozen=True)
class MazeTask:
    """One evaluation episode: where the agent starts, where the goal is, and the seeds of env and policy."""

    start_cell: tuple[int, int]
    goal_cell: tuple[int, int]
    env_seed: int
    policy_seed: int


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Per episode: the return, success flag, time to goal (steps) and path length to the goal over the
    shortest route's length (both NaN where the goal was never reached)."""

    returns: np.ndarray
    successes: np.ndarray
    times: np.ndarray
    path_ratios: np.ndarray
    radius: float

    @property
    def mean_return(self) -> float:
        return float(self.returns.mean())

    @property
    def success_rate(self) -> float:
        return float(self.successes.mean())

    @property
    def arrivals(self) -> int:
        return int(self.successes.sum())

    @property
    def mean_time_to_goal(self) -> float | None:
        """Mean over the episodes that arrive; None if none did."""
        return float(self.times[self.successes].mean()) if self.successes.any() else None

    @property
    def mean_path_ratio(self) -> float | None:
        """Mean over the episodes that arrive; None if none did."""
        return float(self.path_ratios[self.successes].mean()) if self.successes.any() else None

    def summary(self) -> dict[str, float | int | None]:
        """The numbers of eval.json: strict JSON, None (null) where no episode arrived."""
        return {
            "episodes": len(self.returns),
            "return": self.mean_return,
            "std_return": float(self.returns.std()),
            "success_rate": self.success_rate,
            "arrivals": self.arrivals,
            "time_to_goal": self.mean_time_to_goal,
            "path_ratio": self.mean_path_ratio,
            "success_radius": self.radius,
        }


def normalized_score(returns, random_return: float, expert_return: float):
    """``100 (R - R_random) / (R_expert - R_random)``, elementwise over ``returns``."""
    if not expert_return > random_return:
        raise ValueError(f"the expert return {expert_return} must exceed the random return {random_return}")
    return 100.0 * (np.asarray(returns, dtype=np.float64) - random_return) / (expert_return - random_return)


def make_tasks(maze: str, n_episodes: int, seed: int = 0) -> list[MazeTask]:
    """``n_episodes`` tasks with start and goal drawn uniformly from distinct free cells."""
    cells = get_maze(maze).free_cells
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(n_episodes):
        start, goal = rng.choice(len(cells), size=2, replace=False)
        tasks.append(_task(rng, cells[start], cells[goal]))
    return tasks


def _task(rng: np.random.Generator, start, goal) -> MazeTask:
    env_seed, policy_seed = (int(s) for s in rng.integers(2**31, size=2))
    return MazeTask(tuple(map(int, start)), tuple(map(int, goal)), env_seed, policy_seed)


def cell_pairs(maze: str) -> np.ndarray:
    """Every ordered pair of distinct free cells, [K, 2, 2] as (start, goal)."""
    cells = get_maze(maze).free_cells
    return np.array([(a, b) for a in cells for b in cells if (a != b).any()])


def hard_pairs(maze: str, quantile: float = 0.75) -> np.ndarray:
    """The (start, goal) cell pairs [K, 2, 2] whose centre-to-centre segment crosses a wall and whose shortest
    path (in cells) is at least the ``quantile`` of those crossing pairs' lengths (0.75: the 25% longest)."""
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must lie in [0, 1], got {quantile}")
    layout = get_maze(maze)
    pairs = cell_pairs(maze)
    crossing = pairs[layout.crosses_walls(layout.cell_to_xy(pairs[:, 0]), layout.cell_to_xy(pairs[:, 1]))]
    lengths = np.array([len(shortest_path(maze, a, b)) for a, b in crossing])
    return crossing[lengths >= np.quantile(lengths, quantile)]


def hard_tasks(maze: str, n_episodes: int, seed: int = 0, quantile: float = 0.75) -> list[MazeTask]:
    """``n_episodes`` tasks drawn uniformly from ``hard_pairs(maze, quantile)``."""
    pairs = hard_pairs(maze, quantile)
    rng = np.random.default_rng(seed)
    return [_task(rng, *pairs[i]) for i in rng.integers(len(pairs), size=n_episodes)]


def distinct_tasks(maze: str, n: int, seed: int = 0) -> list[MazeTask]:
    """``n`` tasks with distinct (start, goal) cell pairs (all of them if the maze has fewer), e.g. for figures."""
    pairs = cell_pairs(maze)
    rng = np.random.default_rng(seed)
    return [_task(rng, *pairs[i]) for i in rng.permutation(len(pairs))[:n]]


def random_policy(task: MazeTask) -> Policy:
    """D4RL's ``ref_min`` policy: actions uniform on [-1, 1]^2."""
    rng = np.random.default_rng(task.policy_seed)
    return lambda observation, goal: rng.uniform(-1.0, 1.0, size=2).astype(np.float32)


def expert_policy(maze: str) -> Callable[[MazeTask], Policy]:
    """D4RL's ``ref_max`` policy: the waypoint controller, its jitter seeded by the task."""
    return lambda task: WaypointController(maze, rng=np.random.default_rng(task.policy_seed))


def straight_policy(gains: tuple[float, float] = (10.0, 1.0)) -> Callable[[MazeTask], Policy]:
    """The trivial baseline: Diffuser's tracking controller with ``gains`` aimed at the goal at rest, no plan."""

    def make(task: MazeTask) -> Policy:
        return lambda observation, goal: track(
            np.r_[goal, 0.0, 0.0][None], 1, np.asarray(observation, dtype=np.float64), gains
        )

    return make


def run_episode(
    env,
    maze: str,
    policy: Policy,
    task: MazeTask,
    radius: float = GOAL_RADIUS,
    on_step: Callable | None = None,
) -> tuple[float, float, float]:
    """One episode of ``task`` for the env's full length: (return, first step within ``radius`` of the goal,
    path ratio (see the module doc); both NaN if it never arrives). ``on_step(env)`` is called after the reset
    and after every step (e.g. to render)."""
    obs, _ = reset_to(env, maze, task.start_cell, task.goal_cell, seed=task.env_seed)
    start, goal = obs["achieved_goal"].copy(), obs["desired_goal"].copy()
    total, first, travelled, step, done = 0.0, np.nan, 0.0, 0, False
    while not done:
        if on_step is not None:
            on_step(env)
        before = obs["achieved_goal"]
        obs, reward, terminated, truncated, _ = env.step(policy(obs["observation"], obs["desired_goal"]))
        total, step, done = total + float(reward), step + 1, terminated or truncated
        if np.isnan(first):
            travelled += float(np.linalg.norm(obs["achieved_goal"] - before))
            left = float(np.linalg.norm(obs["achieved_goal"] - goal))
            if left <= radius:
                first, travelled = step, travelled + left
    ratio = travelled / get_maze(maze).geodesic(start, goal) if not np.isnan(first) else np.nan
    return total, first, ratio


def evaluate(
    maze: str, make_policy: Callable[[MazeTask], Policy], tasks: list[MazeTask], radius: float = GOAL_RADIUS
) -> Evaluation:
    """Run a fresh ``make_policy(task)`` on every task for the env's full episode length."""
    env = make_env(maze)
    episodes = np.array([run_episode(env, maze, make_policy(task), task, radius) for task in tasks])
    env.close()
    returns, times, ratios = episodes.T
    return Evaluation(returns, ~np.isnan(times), times, ratios, radius)
