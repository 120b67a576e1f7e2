"""D4RL's waypoint controller (Fu et al., 2020): the expert that wrote the Maze2D data Diffuser learns from.

Janner et al. (2022) train on D4RL's maze2d datasets, which this controller generated: a shortest path on the
grid of free cells (breadth-first search here; D4RL runs Q-iteration with discount 0.99, whose greedy policy
follows a shortest path too), waypoints at the centres of the cells along it, each moved by U(0, 0.2) towards
smaller (row, col) as D4RL does, the last waypoint the goal itself, and PD control towards the current one,

    a = clip(p_gain * (w - p) + d_gain * v, -1, 1),    p_gain = 10,  d_gain = -1,

moving on to the next waypoint once within 0.1 of it (D4RL's ``solve_thresh``).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from genlab.robotics.mazes import get_maze

STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right in (row, col)


def shortest_path(maze: str, start_cell, goal_cell) -> np.ndarray:
    """The cells [L, 2] of a shortest 4-connected path from ``start_cell`` to ``goal_cell``, both included."""
    layout = get_maze(maze)
    start = layout.check_cell(start_cell, "start cell")
    goal = layout.check_cell(goal_cell, "goal cell")
    parent = {start: start}
    frontier = deque([start])
    while frontier:
        cell = frontier.popleft()
        if cell == goal:
            break
        for dr, dc in STEPS:
            nxt = (cell[0] + dr, cell[1] + dc)
            if not layout.walls[nxt] and nxt not in parent:  # the map's border is all walls
                parent[nxt] = cell
                frontier.append(nxt)
    if goal not in parent:
        raise ValueError(f"no path from {start} to {goal} in the {maze} maze")
    path = [goal]
    while path[-1] != start:
        path.append(parent[path[-1]])
    return np.array(path[::-1], dtype=np.int64)


class WaypointController:
    """``controller(observation, goal) -> action``: D4RL's PD waypoint follower; replans when the goal moves.

    ``observation`` is the env's ``(x, y, vx, vy)``, ``goal`` an ``(x, y)`` in a free cell; ``rng`` draws the
    waypoint jitter.
    """

    def __init__(
        self,
        maze: str,
        *,
        p_gain: float = 10.0,
        d_gain: float = -1.0,
        jitter: float = 0.2,
        waypoint_radius: float = 0.1,
        rng: np.random.Generator | None = None,
    ):
        self.maze = maze
        self.layout = get_maze(maze)
        self.p_gain, self.d_gain = p_gain, d_gain
        self.jitter, self.waypoint_radius = jitter, waypoint_radius
        self.rng = rng if rng is not None else np.random.default_rng()
        self.goal: np.ndarray | None = None
        self.waypoints = np.zeros((0, 2))
        self.index = 0

    def plan(self, position: np.ndarray, goal: np.ndarray) -> None:
        """Waypoints from the cell of ``position`` to ``goal``: jittered cell centres, then the goal itself."""
        goal = self.layout.check_xy(goal, "goal")
        start = self.layout.xy_to_cell(self.layout.check_xy(position, "position"))
        cells = shortest_path(self.maze, start, self.layout.xy_to_cell(goal))[1:-1]
        jittered = cells - self.rng.uniform(0.0, self.jitter, size=cells.shape)
        self.waypoints = np.concatenate([self.layout.cell_to_xy(jittered).reshape(-1, 2), goal[None]])
        self.goal, self.index = goal.copy(), 0

    def __call__(self, observation, goal) -> np.ndarray:
        obs = np.asarray(observation, dtype=np.float64)
        if obs.shape != (4,):
            raise ValueError(f"observation must be (x, y, vx, vy) of shape (4,), got shape {obs.shape}")
        position, velocity = obs[:2], obs[2:]
        if self.goal is None or not np.array_equal(self.goal, goal):
            self.plan(position, np.asarray(goal, dtype=np.float64))
        if self.index < len(self.waypoints) - 1 and (
            np.linalg.norm(self.waypoints[self.index] - position) < self.waypoint_radius
        ):
            self.index += 1
        target = self.waypoints[self.index]
        action = self.p_gain * (target - position) + self.d_gain * velocity
        return np.clip(action, -1.0, 1.0).astype(np.float32)
