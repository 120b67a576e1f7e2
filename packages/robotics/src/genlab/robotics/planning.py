"""Planning and control with Diffuser (Janner et al., ICML 2022) in the maze: sample a plan, then track it.

Control is Diffuser's Maze2D controller (``scripts/plan_maze2d.py``): at step k of a plan of states
(p*, v*), the action is

    a_k = k_p (p*_{k+1} - p_k) + k_v (v*_{k+1} - v_k),    k_p = k_v = 1,

clipped to the env's [-1, 1]; past the plan's end the target is its last position at rest (v* = 0).
The Diffuser recipes set k_p = 10, the waypoint controller's gain (their ``paper`` preset: 1): with k_p = 1
the point mass of PointMaze v3 trails the plan (on Medium, the same plans reach the goal in 188 steps at
k_p = 1, 158 at k_p = 10). The paper plans once ("open-loop plans are good enough for maze2d"); the
replanning variant samples a new plan from the current state every ``replan_every`` steps until the agent
reaches the goal.

The horizon: with several horizons (variable-length plans, Sec. 4.1), the planner bisects for the shortest
horizon whose plan is feasible (every planned position in a free cell, no stretch of it faster than the top
speed allows, the normaliser's velocity range: the data's and the env's, 5.24); if none is, it keeps the plan of the longest. This picks the plan's duration, which the fixed horizon
of the paper's Maze2D runs ties to H whatever the distance to the goal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from genlab.robotics.diffuser import Diffuser, Guide
from genlab.robotics.mazes import GOAL_RADIUS, MazeLayout, get_maze


def feasible(layout: MazeLayout, states: np.ndarray, max_step: np.ndarray, span: int = 8) -> bool:
    """True if the planned states [H, >= 2] stay in free cells and cover at most ``span * max_step`` in x and y
    over any ``span`` steps (over a span, so that the jitter of single steps is forgiven but jumps are not)."""
    xy = states[:, :2]
    if layout.in_wall(xy).any():
        return False
    k = min(span, len(xy) - 1)
    return bool((np.abs(xy[k:] - xy[:-k]) <= k * max_step).all())


def wall_stats(layout: MazeLayout, plans: list[np.ndarray]) -> dict[str, float]:
    """How far plans [H, >= 2] ignore the walls: the fraction of their points inside a wall (or outside the
    map) and the fraction of plans with a segment between consecutive points that enters a wall."""
    if not plans:
        raise ValueError("wall_stats needs at least one plan")
    inside = np.concatenate([layout.in_wall(p[:, :2]) for p in plans])
    crossing = [layout.crosses_walls(p[:-1, :2], p[1:, :2]).any() for p in plans]
    return {"plan_points_in_walls": float(inside.mean()), "plans_crossing_walls": float(np.mean(crossing))}


@dataclass
class Planner:
    """``planner(observation [4], goal [2], generator) -> states [h, 4]``: a Diffuser plan in env units.

    ``n_samples`` plans are drawn per horizon, guided by ``scale * grad guide`` if a guide is given, sorted by
    ``rank`` (e.g. the value at t = 0; Diffuser sorts its samples by value) if given; the first feasible one
    in that order is kept. Without a goal-conditioned Diffuser, ``goal`` is ignored.
    """

    diffuser: Diffuser
    model: nn.Module
    maze: str
    dt: float = 0.01
    n_samples: int = 1
    speed_slack: float = 1.25
    guide: Guide | None = None
    scale: float = 0.0
    rank: Callable[[torch.Tensor], torch.Tensor] | None = None
    layout: MazeLayout = field(init=False)
    max_step: np.ndarray = field(init=False)

    def __post_init__(self):
        self.layout = get_maze(self.maze)
        vel = self.diffuser.obs_normalizer
        top_speed = np.maximum(np.abs(vel.mins[2:4]), np.abs(vel.maxs[2:4]))
        self.max_step = self.speed_slack * top_speed * self.dt

    def sample(self, observation, goal, horizon: int, generator: torch.Generator | None = None) -> np.ndarray:
        """``n_samples`` plans [n, horizon, 4] in env units, sorted by ``rank`` when there is one."""
        layout, obs = self.layout, np.asarray(observation, dtype=np.float64)
        if obs.shape != (4,):
            raise ValueError(f"observation must be (x, y, vx, vy) of shape (4,), got shape {obs.shape}")
        layout.check_xy(obs[:2], "position")
        d = self.diffuser
        start = d.encode_states(np.repeat(obs[None], self.n_samples, 0))
        end = None
        if d.condition_goal:
            g = layout.check_xy(goal, "goal")
            end = d.encode_states(np.repeat(np.r_[g, 0.0, 0.0][None], self.n_samples, 0))
        device = next(self.model.parameters()).device
        start, end = start.to(device), end.to(device) if end is not None else None
        plans = d.sample(
            self.model, start, end, horizon, generator=generator, guide=self.guide, scale=self.scale
        )
        if self.rank is not None:
            plans = plans[torch.argsort(self.rank(plans), descending=True)]
        return d.observations(plans)

    def first_feasible(self, observation, goal, horizon: int, generator) -> tuple[np.ndarray, bool]:
        """The first feasible plan of ``horizon`` in rank order (else the first plan), and whether it is."""
        plans = self.sample(observation, goal, horizon, generator)
        for plan in plans:
            if feasible(self.layout, plan, self.max_step):
                return plan, True
        return plans[0], False

    def __call__(self, observation, goal, generator: torch.Generator | None = None) -> np.ndarray:
        """Bisection over the horizons for the shortest with a feasible plan (feasibility grows with time)."""
        horizons = self.diffuser.horizons
        lo, hi, best = 0, len(horizons) - 1, None
        while lo <= hi:
            mid = (lo + hi) // 2
            plan, ok = self.first_feasible(observation, goal, horizons[mid], generator)
            if ok:
                best, hi = plan, mid - 1
            else:
                lo = mid + 1
                if best is None and mid == len(horizons) - 1:
                    best = plan  # nothing feasible: the longest plan
        return best


class PlanTracker:
    """A ``scores.Policy``: plan on the first call, then track the plan with Diffuser's controller. With
    ``replan_every > 0``, plan again from the current state every ``replan_every`` steps until the agent is
    within ``goal_radius`` of the goal (from there a plan to the goal can only lead away and back; the agent
    keeps tracking the plan that brought it). ``plans`` and ``observations`` record the episode."""

    def __init__(
        self,
        planner: Planner,
        replan_every: int = 0,
        gains: tuple[float, float] = (1.0, 1.0),
        generator: torch.Generator | None = None,
        goal_radius: float = GOAL_RADIUS,
    ):
        if replan_every < 0:
            raise ValueError(f"replan_every must be >= 0 (0: plan once), got {replan_every}")
        self.planner, self.replan_every, self.gains, self.generator = planner, replan_every, gains, generator
        self.goal_radius = goal_radius
        self.plans: list[tuple[int, np.ndarray]] = []  # (env step, plan)
        self.observations: list[np.ndarray] = []
        self.k = 0

    def __call__(self, observation, goal) -> np.ndarray:
        obs = np.asarray(observation, dtype=np.float64)
        step = len(self.observations)
        arrived = np.linalg.norm(obs[:2] - np.asarray(goal, dtype=np.float64)) <= self.goal_radius
        if not self.plans or (self.replan_every and self.k >= self.replan_every and not arrived):
            self.plans.append((step, self.planner(obs, goal, self.generator)))
            self.k = 0
        self.observations.append(obs)
        self.k += 1
        return track(self.plans[-1][1], self.k, obs, self.gains)


def track(
    plan: np.ndarray, k: int, observation: np.ndarray, gains: tuple[float, float] = (1.0, 1.0)
) -> np.ndarray:
    """Diffuser's controller towards state ``k`` of ``plan`` [H, 4] (its end at rest once past it)."""
    target = plan[k] if k < len(plan) else np.r_[plan[-1, :2], 0.0, 0.0]
    kp, kv = gains
    action = kp * (target[:2] - observation[:2]) + kv * (target[2:4] - observation[2:4])
    return np.clip(action, -1.0, 1.0).astype(np.float32)
