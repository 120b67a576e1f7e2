"""The three Maze2D layouts of D4RL (Fu et al., 2020) as gymnasium-robotics PointMaze environments.

Diffuser (Janner et al., 2022) plans in ``maze2d-{umaze,medium,large}``; gymnasium-robotics ships the same
maps as ``PointMaze_{UMaze,Medium,Large}-v3`` on MuJoCo's pip wheel. A cell is ``(row, col)`` of the map;
positions are the env's centred continuous ``(x, y)``, ``x = (col + 1/2) s - C s / 2`` and
``y = R s / 2 - (row + 1/2) s`` for a map of R rows and C columns of size s (here 1), as the env's own
``Maze`` object defines them; D4RL used ``(row, col)`` itself as the position.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import gymnasium as gym
import gymnasium_robotics
import numpy as np
from gymnasium_robotics.envs.maze.maze_v4 import Maze

from genlab.core.lookup import lookup

gym.register_envs(gymnasium_robotics)

# The env's success and sparse-reward radius (gymnasium-robotics; D4RL's maze2d used 0.5).
GOAL_RADIUS = 0.45
VELOCITY_CLIP = 5.0  # PointMaze clips each velocity component to [-5, 5] before every MuJoCo step
ENV_IDS = {"umaze": "PointMaze_UMaze-v3", "medium": "PointMaze_Medium-v3", "large": "PointMaze_Large-v3"}


@dataclass(frozen=True, eq=False)
class MazeLayout:
    """One maze: its map, its episode length and the env's ``Maze`` (cell <-> position conversions)."""

    name: str
    env_id: str
    walls: np.ndarray  # [rows, cols] bool, True where the map has a wall
    max_episode_steps: int
    maze: Maze
    max_speed: float  # the top speed per axis: the clip plus one step of full thrust, dt * gear / mass

    @property
    def free_cells(self) -> np.ndarray:
        """All cells without a wall, [K, 2] int ``(row, col)`` in row-major order."""
        return np.argwhere(~self.walls)

    def cell_to_xy(self, cells) -> np.ndarray:
        """Cell ``(row, col)`` [..., 2] to the position of its centre [..., 2]; fractional cells map affinely."""
        rc = np.asarray(cells, dtype=np.float64)
        s = self.maze.maze_size_scaling
        x = (rc[..., 1] + 0.5) * s - self.maze.x_map_center
        y = self.maze.y_map_center - (rc[..., 0] + 0.5) * s
        return np.stack([x, y], axis=-1)

    def xy_to_cell(self, xy) -> np.ndarray:
        """Position [..., 2] to the cell ``(row, col)`` [..., 2] (int) that contains it."""
        xy = np.asarray(xy, dtype=np.float64)
        s = self.maze.maze_size_scaling
        row = np.floor((self.maze.y_map_center - xy[..., 1]) / s)
        col = np.floor((xy[..., 0] + self.maze.x_map_center) / s)
        return np.stack([row, col], axis=-1).astype(np.int64)

    def check_cell(self, cell, what: str = "cell") -> tuple[int, int]:
        """``cell`` as an int pair, or a ValueError if it lies outside the map or in a wall."""
        rc = np.asarray(cell)
        if rc.shape != (2,) or not np.issubdtype(rc.dtype, np.integer):
            raise ValueError(f"{what} must be an integer (row, col) pair, got {cell!r}")
        row, col = int(rc[0]), int(rc[1])
        rows, cols = self.walls.shape
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError(
                f"{what} {(row, col)} is outside the {self.name} maze ({rows} rows x {cols} cols)"
            )
        if self.walls[row, col]:
            raise ValueError(
                f"{what} {(row, col)} is a wall of the {self.name} maze; free cells: {self._free()}"
            )
        return row, col

    def check_xy(self, xy, what: str = "position") -> np.ndarray:
        """``xy`` as a float array [2], or a ValueError if it lies outside the map or in a wall cell."""
        p = np.asarray(xy, dtype=np.float64)
        if p.shape != (2,) or not np.isfinite(p).all():
            raise ValueError(f"{what} must be a finite (x, y) pair, got {xy!r}")
        rows, cols = self.walls.shape
        row, col = self.xy_to_cell(p)
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError(f"{what} {tuple(p)} is outside the {self.name} maze")
        if self.walls[row, col]:
            raise ValueError(
                f"{what} {tuple(p)} lies in the wall cell {(int(row), int(col))} of the {self.name} maze"
            )
        return p

    def in_wall(self, xy) -> np.ndarray:
        """True where a position [..., 2] lies in a wall cell or outside the map."""
        cells = self.xy_to_cell(xy)
        rows, cols = self.walls.shape
        inside = (cells[..., 0] >= 0) & (cells[..., 0] < rows) & (cells[..., 1] >= 0) & (cells[..., 1] < cols)
        hit = np.ones(inside.shape, dtype=bool)
        hit[inside] = self.walls[cells[inside][:, 0], cells[inside][:, 1]]
        return hit

    def crosses_walls(self, a, b) -> np.ndarray:
        """True where the segment from ``a`` to ``b`` (positions [..., 2]) enters the interior of the walls
        (slab tests against open boxes; running along a wall's face or grazing its corner does not count)."""
        a, b = np.asarray(a, dtype=np.float64)[..., None, :], np.asarray(b, dtype=np.float64)[..., None, :]
        lo, hi = self._wall_boxes()  # [W, 2]
        d = b - a  # [..., 1, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (lo - a) / d, (hi - a) / d
        still = d == 0  # parallel to this axis: inside the slab for all t, or never
        between = (lo < a) & (a < hi)
        t_in = np.where(still, np.where(between, -np.inf, np.inf), np.minimum(t1, t2)).max(axis=-1)
        t_out = np.where(still, np.where(between, np.inf, -np.inf), np.maximum(t1, t2)).min(axis=-1)
        return (np.maximum(t_in, 0.0) < np.minimum(t_out, 1.0)).any(axis=-1)

    @cache  # noqa: B019 (one per maze; get_maze keeps every layout alive anyway)
    def _wall_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Corners (lo, hi) [W, 2] of every wall cell and of every two adjacent wall cells together, so that
        the edge two walls share is interior to a box too."""
        half = self.maze.maze_size_scaling / 2
        cells = np.argwhere(self.walls)
        boxes = [(cells, cells)]
        for step in ((0, 1), (1, 0)):
            nxt = cells + step
            keep = (nxt < self.walls.shape).all(axis=1)
            keep[keep] = self.walls[nxt[keep, 0], nxt[keep, 1]]
            boxes.append((cells[keep], nxt[keep]))
        ends = [np.concatenate(c) for c in zip(*boxes)]
        xy = [self.cell_to_xy(c) for c in ends]
        return np.minimum(*xy) - half, np.maximum(*xy) + half

    def geodesic(self, a, b) -> float:
        """Length of the shortest path from ``a`` to ``b`` [2] that enters no wall (for a point: the ball's
        radius is ignored). It bends only at wall corners, so it is the shortest path of the visibility graph
        on {a, b, corners}."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if not self.crosses_walls(a, b):
            return float(np.linalg.norm(b - a))
        corners, between = self._corner_graph()
        d = np.stack([np.linalg.norm(corners - p, axis=-1) for p in (a, b)])
        d[np.stack([self.crosses_walls(p, corners) for p in (a, b)])] = np.inf
        return float((d[0][:, None] + between + d[1][None, :]).min())

    @cache  # noqa: B019
    def _corner_graph(self) -> tuple[np.ndarray, np.ndarray]:
        """Grid vertices next to a free cell [V, 2] and their all-pairs shortest distances [V, V]."""
        rows, cols = self.walls.shape
        free = np.pad(~self.walls, 1)  # vertex (i, j) touches cells (i-1..i, j-1..j)
        touch = free[:-1, :-1] | free[:-1, 1:] | free[1:, :-1] | free[1:, 1:]
        corners = self.cell_to_xy(np.argwhere(touch) - 0.5)
        dist = np.linalg.norm(corners[:, None] - corners[None], axis=-1)
        dist[self.crosses_walls(corners[:, None], corners[None])] = np.inf
        for k in range(len(corners)):  # Floyd-Warshall
            dist = np.minimum(dist, dist[:, k, None] + dist[None, k, :])
        return corners, dist

    def state_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(mins, maxs) of every state (x, y, vx, vy) the env can reach: the free cells' extent, the speed clip."""
        s = self.maze.maze_size_scaling
        xy = self.cell_to_xy(self.free_cells)
        lo, hi = xy.min(axis=0) - s / 2, xy.max(axis=0) + s / 2
        v = self.max_speed
        return np.r_[lo, -v, -v], np.r_[hi, v, v]

    def _free(self) -> str:
        return ", ".join(f"({r}, {c})" for r, c in self.free_cells)


@cache
def get_maze(name: str) -> MazeLayout:
    """The layout named ``umaze``, ``medium`` or ``large``; a ValueError with close matches otherwise."""
    env_id = lookup("maze", name, ENV_IDS)
    env = gym.make(env_id)
    maze, model = env.unwrapped.maze, env.unwrapped.point_env.model
    thrust = model.opt.timestep * model.actuator_gear[:, 0].max() / model.body_mass.max()
    env.close()
    walls = np.array([[cell == 1 for cell in row] for row in maze.maze_map], dtype=bool)
    return MazeLayout(name, env_id, walls, env.spec.max_episode_steps, maze, VELOCITY_CLIP + float(thrust))


def make_env(maze: str, *, render_mode: str | None = None, max_episode_steps: int | None = None) -> gym.Env:
    """The maze's gymnasium env with D4RL's task: sparse reward, continuing, fixed target.

    D4RL's maze2d keeps scoring while the agent stays at the goal and never moves the target, so
    ``continuing_task=True, reset_target=False``; the time limit is D4RL's (300 / 600 / 800 steps).
    """
    layout = get_maze(maze)
    return gym.make(
        layout.env_id,
        render_mode=render_mode,
        max_episode_steps=max_episode_steps or layout.max_episode_steps,
        reward_type="sparse",
        continuing_task=True,
        reset_target=False,
    )


def control_dt(env: gym.Env) -> float:
    """Seconds per env step (MuJoCo timestep 0.01 x frame skip 1 for PointMaze)."""
    return float(env.unwrapped.point_env.dt)


def reset_to(env: gym.Env, maze: str, start_cell, goal_cell, seed: int | None = None):
    """``env.reset`` with the agent in ``start_cell`` and the goal in ``goal_cell`` (both get the env's noise)."""
    layout = get_maze(maze)
    start = layout.check_cell(start_cell, "start cell")
    goal = layout.check_cell(goal_cell, "goal cell")
    return env.reset(seed=seed, options={"reset_cell": np.array(start), "goal_cell": np.array(goal)})


def set_goal(env: gym.Env, maze: str, xy) -> None:
    """Move the env's goal to ``xy`` mid-episode (D4RL's ``set_target``); rewards then count towards it."""
    goal = get_maze(maze).check_xy(xy, "goal")
    env.unwrapped.goal = goal.copy()
    env.unwrapped.update_target_site_pos()
