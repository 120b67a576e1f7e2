"""``diffuser-value-guided``: Diffuser's value guidance (Janner et al., ICML 2022, Sec. 3.2) in a maze.

The goal is not a condition: a Diffuser with only its start inpainted learns the stream's trajectories, which
wander between random goals; a value network learns, on noised trajectories, the discounted number of steps
spent within reach of any of several ``targets`` cells (the task reward, unseen by the Diffuser). Guided
sampling adds ``scale * grad J`` to the score; samples are sorted by J and the best feasible one is tracked in
the env with the controller of ``diffuser-maze2d``. ``evaluate`` compares, from the same start states, each
guidance scale in ``scales`` (0 = unguided): the true return of the sampled plans and the fraction that reach
a target, the value J, the same for the top-ranked plan. Then the executed episodes, side by side on the same
tasks and seeds: Diffuser unguided and guided at ``scale``, and four references that are *told* the target
nearest the start by path length (Diffuser is not): the waypoint controller (the expert), goal-conditioned BC
on the same data, the tracking controller driving straight at it (no plan), and a random policy. For the two
Diffuser rows, plan feasibility: the fraction of plan points inside walls and of plans crossing a wall.

Stages: the value network (``value``), the BC baseline (``bc``), then the Diffuser (the run's model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genlab.core.checkpoint import EVAL_FILES, latest, load_weights
from genlab.core.recipe import Recipe
from genlab.core.run import train_stage
from genlab.robotics import scores
from genlab.robotics.controller import shortest_path
from genlab.robotics.diffuser import windows
from genlab.robotics.mazes import GOAL_RADIUS, get_maze, make_env, reset_to
from genlab.robotics.planning import PlanTracker, wall_stats
from genlab.robotics.plotting import plot_episodes
from genlab.robotics.recipes.common import DiffuserConfig, DiffuserTask, parse_ints
from genlab.robotics.temporal_unet import TemporalValue
from genlab.robotics.value import reach_any_reward, value_guide, value_loss, value_rank, window_returns


def parse_cells(text: str, maze: str) -> np.ndarray:
    """``"r,c;r,c"`` as free cells [K, 2] of ``maze``."""
    layout = get_maze(maze)
    cells = [
        layout.check_cell(parse_ints(part, "targets"), "target cell")
        for part in text.split(";")
        if part.strip()
    ]
    if not cells:
        raise ValueError(f"targets must name at least one cell as 'row,col;row,col', got {text!r}")
    return np.array(cells)


@dataclass
class DiffuserValueGuidedConfig(DiffuserConfig):
    targets: str = "1,1;3,1"  # cells (row, col) of the task reward; the default: U-Maze's two dead ends
    discount: float = 0.99  # gamma of the task reward's return, the value network's target
    scale: float = 10.0  # the guidance scale of the executed episodes and the figure
    scales: str = "0,3,10,30"  # the scales compared on plans (0: unguided)
    t_stop: float = 0.1  # no guidance gradient below this noise level (Diffuser's t_stopgrad)
    n_samples: int = 16  # plans per start, sorted by value
    n_episodes: int = 50  # executed evaluation episodes
    eval_seed: int = 0  # seed of the evaluation tasks and of the plans drawn
    value_steps: int = 3000  # training steps of the value network (stage value)
    value_dim: int = 16  # channels of the value network's U-Net encoder at full horizon
    steps: int = 4000


class DiffuserValueGuidedTask(DiffuserTask):
    n_show = 4

    def __init__(self, cfg: DiffuserValueGuidedConfig):
        if cfg.min_horizon:
            raise ValueError("value guidance plans at one horizon (the value net's); leave min_horizon at 0")
        super().__init__(cfg, condition_goal=False)
        self.target_cells = parse_cells(cfg.targets, cfg.maze)
        self.targets = get_maze(cfg.maze).cell_to_xy(self.target_cells)
        self.scales = [float(s) for s in cfg.scales.split(",") if s.strip()]
        if not 0.0 < cfg.discount <= 1.0 or cfg.n_samples < 1:
            raise ValueError(
                f"need 0 < discount <= 1 and n_samples >= 1, got {cfg.discount}, {cfg.n_samples}"
            )
        rewards = reach_any_reward(self.data.observations[:, :2], self.targets, GOAL_RADIUS)
        self.max_return = float(np.sum(cfg.discount ** np.arange(self.horizon)))
        returns = window_returns(rewards, self.horizon, cfg.discount) / self.max_return  # in [0, 1]
        self.returns = torch.as_tensor(returns, dtype=torch.float32)
        self.value = TemporalValue(self.horizon, self.diffuser.transition_dim, cfg.value_dim, (1, 2, 4))
        self.tasks = scores.make_tasks(cfg.maze, cfg.n_episodes, cfg.eval_seed)

    def value_batch_loss(self, value, starts):
        self.stream, self.returns = self.stream.to(starts.device), self.returns.to(starts.device)
        return value_loss(
            value, self.diffuser, windows(self.stream, starts, self.horizon), self.returns[starts]
        )

    def fit(self, cfg: DiffuserValueGuidedConfig, run_dir: Path | None) -> torch.nn.Module:
        value_cfg = self.stage_cfg(steps=cfg.value_steps, batch_size=64, lr=1e-3, ckpt_every=cfg.value_steps)
        self.value = train_stage(
            "value", self.value, self.value_batch_loss, self.train_set, value_cfg, run_dir
        )
        self.fit_bc(run_dir)
        return train_stage("", self.model, self.loss, self.train_set, cfg, run_dir)

    def load_stages(self, run_dir: Path) -> None:
        found = latest(Path(run_dir) / "stages" / "value" / "checkpoints", need=EVAL_FILES)
        if found is None:
            raise FileNotFoundError(
                f"{run_dir} has no trained value stage (stages/value): guidance needs it; resume the run to train it"
            )
        load_weights(self.value, found.path / "ema.safetensors")
        self.load_bc(run_dir)

    def plan_return(self, positions: np.ndarray) -> np.ndarray:
        """The task's normalised discounted return of paths [..., H, 2] over their first ``horizon`` steps."""
        r = reach_any_reward(positions[..., : self.horizon, :], self.targets, GOAL_RADIUS)
        return (r * self.cfg.discount ** np.arange(r.shape[-1])).sum(-1) / self.max_return

    def start_states(self) -> np.ndarray:
        """The observation each task's episode starts from (the env's reset with the task's seed)."""
        env = make_env(self.cfg.maze)
        starts = [
            reset_to(env, self.cfg.maze, t.start_cell, t.goal_cell, seed=t.env_seed)[0]["observation"]
            for t in self.tasks
        ]
        env.close()
        return np.array(starts)

    def planner(self, model, scale: float = 0.0, **options):
        value = self.value.eval()
        return super().planner(
            model.eval(),
            n_samples=self.cfg.n_samples,
            guide=value_guide(value, self.cfg.t_stop) if scale else None,
            scale=scale,
            rank=value_rank(value),
            **options,
        )

    def compare_scales(self, model) -> dict[str, float]:
        """Plan statistics per guidance scale, all starts at once, n_samples plans each."""
        d, n = self.diffuser, self.cfg.n_samples
        device = next(model.parameters()).device
        start = d.encode_states(np.repeat(self.start_states(), n, axis=0)).to(device)
        rank, out = value_rank(self.value.eval()), {}
        for w in self.scales:
            generator = torch.Generator(device).manual_seed(self.cfg.eval_seed)
            guide = value_guide(self.value, self.cfg.t_stop)
            plans = d.sample(
                model.eval(), start, None, self.horizon, generator=generator, guide=guide, scale=w
            )
            values = rank(plans).view(-1, n).cpu().numpy()
            returns = self.plan_return(d.observations(plans)[..., :2]).reshape(-1, n)
            best = values.argmax(axis=1)
            top = returns[np.arange(len(returns)), best]
            out.update(
                {
                    f"w{w:g}/plan_return": float(returns.mean()),
                    f"w{w:g}/plan_reach_rate": float((returns > 0).mean()),
                    f"w{w:g}/plan_value": float(values.mean()),
                    f"w{w:g}/ranked_plan_return": float(top.mean()),
                    f"w{w:g}/ranked_reach_rate": float((top > 0).mean()),
                }
            )
        return out

    def nearest_target(self, start_cell) -> np.ndarray:
        """The (x, y) of the target cell with the shortest path from ``start_cell``."""
        lengths = [len(shortest_path(self.cfg.maze, start_cell, tuple(c))) for c in self.target_cells]
        return self.targets[int(np.argmin(lengths))]

    def references(self) -> dict[str, Callable[[scores.MazeTask], scores.Policy]]:
        """The reference policies, each driving to the nearest target instead of the env's goal."""

        def aimed(make_policy):
            def make(task):
                policy, target = make_policy(task), self.nearest_target(task.start_cell)
                return lambda observation, goal: policy(observation, target)

            return make

        gains = (self.cfg.track_kp, self.cfg.track_kv)
        runs = {
            "random": scores.random_policy,
            "expert": aimed(scores.expert_policy(self.cfg.maze)),
            "straight": aimed(scores.straight_policy(gains)),
        }
        if self.bc_trained:
            runs["bc"] = aimed(lambda task: self.bc_policy())
        return runs

    def executed(self, make_policy, tasks) -> np.ndarray:
        """The positions [len(tasks), T, 2] of ``make_policy(task)`` run on each task for the env's length."""
        paths: list[list[np.ndarray]] = []

        def make(task):
            policy, path = make_policy(task), []
            paths.append(path)

            def act(observation, goal):
                path.append(np.asarray(observation)[:2])
                return policy(observation, goal)

            return act

        scores.evaluate(self.cfg.maze, make, tasks)
        return np.array(paths)

    def evaluate(self, model):
        out = {"episodes": float(len(self.tasks)), **self.compare_scales(model)}
        runs, trackers = self.references(), {}
        for name, w in (("unguided", 0.0), ("guided", self.cfg.scale)):
            trackers[name] = []
            runs[name] = self.trackers(self.planner(model, w), record=trackers[name])
        for name, make in runs.items():
            paths = self.executed(make, self.tasks)
            reached = reach_any_reward(paths, self.targets, GOAL_RADIUS).any(axis=1)
            out[f"{name}/executed_return"] = float(self.plan_return(paths).mean())
            out[f"{name}/executed_reach_rate"] = float(reached.mean())
        layout = get_maze(self.cfg.maze)
        for name, recorded in trackers.items():
            stats = wall_stats(layout, [plan for tracker in recorded for _, plan in tracker.plans])
            out |= {f"{name}/{k}": v for k, v in stats.items()}
        return out

    def sample(self, model, n):
        """[n, 2, 2, T, 2]: per start, (unguided, guided) x (plan positions, NaN past its end; executed path)."""
        tasks = scores.distinct_tasks(self.cfg.maze, n, self.cfg.eval_seed)  # no task shown twice
        n = len(tasks)
        runs: list[list[PlanTracker]] = [[], []]
        for record, w in zip(runs, (0.0, self.cfg.scale)):
            scores.evaluate(self.cfg.maze, self.trackers(self.planner(model, w), record=record), tasks)
        length = len(runs[0][0].observations)
        out = torch.full((n, 2, 2, length, 2), float("nan"))
        for j, trackers in enumerate(runs):
            for i, tr in enumerate(trackers):
                plan = tr.plans[0][1][:length, :2]
                out[i, j, 0, : len(plan)] = torch.as_tensor(plan)
                out[i, j, 1] = torch.as_tensor(np.array(tr.observations)[:, :2])
        return out

    def save_samples(self, samples, out: Path) -> Path:
        flat = samples.flatten(0, 1)  # start-major: unguided then guided for each start
        plans = [s[0][~torch.isnan(s[0, :, 0])].numpy() for s in flat]
        paths = [s[1].numpy() for s in flat]
        n, w = self.cfg.n_samples, self.cfg.scale
        titles = [f"scale {w if i % 2 else 0:g}, best of {n} by value" for i in range(len(flat))]
        return plot_episodes(self.cfg.maze, plans, paths, out, titles, goals=[self.targets] * len(flat))


RECIPE = Recipe(
    name="diffuser-value-guided",
    description="Diffuser with value guidance (Janner et al. 2022): reach any of several maze cells, samples ranked by value",
    config=DiffuserValueGuidedConfig,
    build=DiffuserValueGuidedTask,
    presets={
        "smoke": {
            "n_data": 3000,
            "horizon": 32,
            "dim": 8,
            "dim_mults": "1,2",
            "diffusion_steps": 4,
            "steps": 20,
            "batch_size": 8,
            "warmup": 5,
            "value_steps": 20,
            "value_dim": 8,
            "bc_steps": 20,
            "bc_hidden": 16,
            "bc_batch_size": 64,
            "n_samples": 4,
            "scales": "0,10",
            "n_episodes": 2,
            "log_every": 10,
            "ckpt_every": 20,
        },
        "paper": {
            "n_data": 1_000_000,
            "track_kp": 1.0,
            "dim_mults": "1,4,8",
            "diffusion_steps": 0,
            "steps": 2_000_000,
            "value_steps": 200_000,
            "value_dim": 32,
            "bc_steps": 100_000,
            "n_samples": 64,
            "lr": 2e-4,
            "ckpt_every": 20_000,
            "log_every": 1000,
        },
    },
)
