"""``diffuser-maze2d``: Diffuser (Janner et al., ICML 2022, Sec. 5.1) on the D4RL Maze2D layouts in PointMaze.

A goal-conditioned Diffuser (start and goal inpainted) trained on the waypoint controller's stream; evaluated
on ``n_episodes`` tasks whose start and goal cells are drawn at random, so every episode sets a new goal to the
same model: this is the paper's Multi2D setting (Table 1, "Multi2D"), which for Diffuser needs nothing but a
different goal in the inpainting. Side by side on the same tasks and seeds: Diffuser planning once (the
paper's Maze2D protocol) and replanning every ``replan_every`` steps, the waypoint controller (the expert,
D4RL's ref_max), a uniform random policy (ref_min), goal-conditioned behaviour cloning on the same data, and
the trivial baseline a reviewer tries first: the tracking controller driving straight at the goal (no plan;
the point mass slides along walls, so it often arrives). Each with D4RL's normalised score, success rate,
time to goal and path ratio (``genlab.robotics.scores``), on two splits: the random tasks, and ``hard_episodes``
hard tasks (``scores.hard_tasks``: the straight segment crosses a wall, the shortest path is among the longest;
keys ``hard/...``). Plan feasibility per Diffuser row: the fraction of plan points inside walls and of plans
with a segment through a wall.

The run trains the BC baseline as the stage ``bc``, then Diffuser; the figure shows sampled plans and the
paths the controller drove on distinct tasks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genlab.core.recipe import Recipe
from genlab.core.run import train_stage
from genlab.robotics import scores
from genlab.robotics.mazes import get_maze
from genlab.robotics.planning import PlanTracker, feasible, wall_stats
from genlab.robotics.plotting import plot_episodes
from genlab.robotics.recipes.common import DiffuserConfig, DiffuserTask
from genlab.robotics.rendering import render_episode, write_gif

# Default training steps per maze: the shortest measured run that meets the U-Maze targets (20k)
# and makes Medium's plans coherent (30k; 10k leaves none of them feasible). See docs/benchmarks.md.
DEFAULT_STEPS = {"umaze": 20_000, "medium": 30_000, "large": 30_000}


@dataclass
class DiffuserMaze2DConfig(DiffuserConfig):
    steps: int = 0  # 0: DEFAULT_STEPS of the maze
    min_horizon: int = 32
    replan_every: int = 25  # the replanning variant's period in env steps; 0 leaves it out
    plan_samples: int = 4  # plans drawn per horizon; the first feasible one is kept
    n_episodes: int = 50  # evaluation episodes, start and goal drawn from distinct free cells
    hard_episodes: int = 50  # tasks of the hard split (scores.hard_tasks); 0 leaves it out
    hard_quantile: float = 0.75  # the hard split keeps wall-crossing pairs at least this long (0.75: top 25%)
    eval_seed: int = 0  # seed of the evaluation tasks: cells, env and policy seeds
    gif_every: int = 3  # rollout.gif: a MuJoCo frame every this many env steps; 0: no GIF

    def __post_init__(self):
        if self.steps == 0:
            self.steps = DEFAULT_STEPS[self.maze]


class DiffuserMaze2DTask(DiffuserTask):
    n_show = 8

    def __init__(self, cfg: DiffuserMaze2DConfig):
        super().__init__(cfg)
        if cfg.n_episodes < 1 or cfg.replan_every < 0 or cfg.hard_episodes < 0:
            raise ValueError(
                "need n_episodes >= 1, replan_every >= 0 and hard_episodes >= 0, got "
                f"{cfg.n_episodes}, {cfg.replan_every}, {cfg.hard_episodes}"
            )
        self.tasks = scores.make_tasks(cfg.maze, cfg.n_episodes, cfg.eval_seed)
        self.hard_tasks = scores.hard_tasks(cfg.maze, cfg.hard_episodes, cfg.eval_seed, cfg.hard_quantile)
        self.frames: list[np.ndarray] = []  # the MuJoCo render of the last sample()'s first episode

    def fit(self, cfg: DiffuserMaze2DConfig, run_dir: Path | None) -> torch.nn.Module:
        self.fit_bc(run_dir)
        return train_stage("", self.model, self.loss, self.train_set, cfg, run_dir)

    def load_stages(self, run_dir: Path) -> None:
        self.load_bc(run_dir)

    def plan_trackers(self, model, replan_every: int, record: list | None = None):
        """``make_policy(task)``: Diffuser's planner with ``plan_samples`` plans per horizon, tracked."""
        planner = self.planner(model.eval(), n_samples=self.cfg.plan_samples)
        return self.trackers(planner, replan_every, record)

    def evaluate(self, model):
        out: dict[str, float | int | None] = {"episodes": len(self.tasks)}
        out |= self.evaluate_split(model, self.tasks, "")
        if self.hard_tasks:
            out["hard/episodes"] = len(self.hard_tasks)
            out |= self.evaluate_split(model, self.hard_tasks, "hard/")
        return out

    def evaluate_split(self, model, tasks, prefix: str) -> dict[str, float | int | None]:
        """Every policy on ``tasks``, keys ``{prefix}{policy}/{metric}``, the score on these tasks' references."""
        cfg, maze = self.cfg, self.cfg.maze
        runs = {
            "random": scores.random_policy,
            "expert": scores.expert_policy(maze),
            "straight": scores.straight_policy((cfg.track_kp, cfg.track_kv)),
        }
        trackers: dict[str, list[PlanTracker]] = {"diffuser": []}
        runs["diffuser"] = self.plan_trackers(model, 0, trackers["diffuser"])
        if cfg.replan_every:
            trackers["diffuser_replan"] = []
            runs["diffuser_replan"] = self.plan_trackers(model, cfg.replan_every, trackers["diffuser_replan"])
        if self.bc_trained:
            runs["bc"] = lambda task: self.bc_policy()
        evals = {name: scores.evaluate(maze, make, tasks) for name, make in runs.items()}
        low, high = evals["random"].mean_return, evals["expert"].mean_return
        out: dict[str, float | int | None] = {}
        for name, ev in evals.items():
            summary = ev.summary()
            out[f"{prefix}{name}/score"] = float(scores.normalized_score(ev.mean_return, low, high))
            for key in ("success_rate", "arrivals", "time_to_goal", "path_ratio", "return"):
                out[f"{prefix}{name}/{key}"] = summary[key]
        layout = get_maze(maze)
        for name, recorded in trackers.items():
            plans = [plan for tracker in recorded for _, plan in tracker.plans]
            out |= {f"{prefix}{name}/{k}": v for k, v in wall_stats(layout, plans).items()}
        first = [t.plans[0][1] for t in trackers["diffuser"]]
        planner = trackers["diffuser"][0].planner
        out[f"{prefix}diffuser/plan_horizon"] = float(np.mean([len(p) for p in first]))
        out[f"{prefix}diffuser/plan_feasible"] = float(
            np.mean([feasible(layout, p, planner.max_step) for p in first])
        )
        return out

    def sample(self, model, n):
        """Plan-once episodes on n tasks with distinct start and goal cells: [n, 2, T, 2] positions of the first
        plan (NaN past its end) and of the executed path, T the episode length."""
        trackers: list[PlanTracker] = []
        tasks = scores.distinct_tasks(self.cfg.maze, n, self.cfg.eval_seed)
        n = len(tasks)
        scores.evaluate(self.cfg.maze, self.plan_trackers(model, 0, trackers), tasks)
        if self.cfg.gif_every:  # the episode with the longest plan, rendered
            task = tasks[max(range(n), key=lambda i: len(trackers[i].plans[0][1]))]
            try:
                policy = self.plan_trackers(model, 0)(task)
                self.frames = render_episode(self.cfg.maze, policy, task, self.cfg.gif_every)[0]
            except RuntimeError as err:
                warnings.warn(f"no rollout.gif: {err}", stacklevel=2)
        length = max(len(t.observations) for t in trackers)
        out = torch.full((n, 2, length, 2), float("nan"))
        for i, tracker in enumerate(trackers):
            plan, path = tracker.plans[0][1][:length, :2], np.array(tracker.observations)[:, :2]
            out[i, 0, : len(plan)], out[i, 1, : len(path)] = torch.as_tensor(plan), torch.as_tensor(path)
        return out

    def save_samples(self, samples, out: Path) -> Path:
        plans = [s[0][~torch.isnan(s[0, :, 0])].numpy() for s in samples]
        paths = [s[1][~torch.isnan(s[1, :, 0])].numpy() for s in samples]
        titles = [f"plan of {len(p)} steps" for p in plans]
        if self.frames:
            write_gif(self.frames, Path(out).with_name("rollout.gif"), fps=25 // self.cfg.gif_every)
        return plot_episodes(self.cfg.maze, plans, paths, out, titles)


RECIPE = Recipe(
    name="diffuser-maze2d",
    description="Diffuser (Janner et al. 2022) on Maze2D in PointMaze, against the expert, random and goal-conditioned BC",
    config=DiffuserMaze2DConfig,
    build=DiffuserMaze2DTask,
    presets={
        "smoke": {
            "n_data": 3000,
            "horizon": 32,
            "min_horizon": 16,
            "dim": 8,
            "dim_mults": "1,2",
            "diffusion_steps": 4,
            "steps": 20,
            "batch_size": 8,
            "warmup": 5,
            "bc_steps": 20,
            "bc_hidden": 16,
            "bc_batch_size": 64,
            "n_episodes": 2,
            "hard_episodes": 2,
            "replan_every": 100,
            "log_every": 10,
            "ckpt_every": 20,
        },
        "paper": {  # the paper's protocol: one horizon, one plan, Diffuser's controller gains
            "n_data": 1_000_000,
            "min_horizon": 0,
            "plan_samples": 1,
            "track_kp": 1.0,
            "dim_mults": "1,4,8",
            "diffusion_steps": 0,
            "replan_every": 0,
            "steps": 2_000_000,
            "ckpt_every": 20_000,
            "log_every": 1000,
            "bc_steps": 100_000,
            "lr": 2e-4,
        },
    },
)
