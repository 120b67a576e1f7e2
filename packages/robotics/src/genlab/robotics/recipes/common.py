"""What the Diffuser recipes share (Janner et al., ICML 2022, App. C, Maze2D): the config of data, network and
sampler, and a task that builds the stream of windows, the normaliser, the temporal U-Net and its loss.

Paper settings per maze: horizon 128 / 256 / 384 and 64 / 256 / 256 diffusion steps for U-Maze / Medium /
Large, dim_mults (1, 4, 8), batch 32, learning rate 2e-4, EMA 0.995. ``horizon = 0`` and
``diffusion_steps = 0`` select them.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import TensorDataset

from genlab.core.checkpoint import EVAL_FILES, latest, load_weights
from genlab.core.run import train_stage
from genlab.core.trainer import TrainConfig
from genlab.robotics.baselines import GoalBC, bc_dataset, bc_loss, cloned_policy
from genlab.robotics.dataset import build_dataset
from genlab.robotics.diffuser import ACT_DIM, Diffuser, transitions, windows
from genlab.robotics.mazes import get_maze
from genlab.robotics.normalizer import LimitsNormalizer
from genlab.robotics.planning import Planner, PlanTracker
from genlab.robotics.scores import Policy
from genlab.robotics.temporal_unet import TemporalUnet

MazeName = Literal["umaze", "medium", "large"]
PAPER_HORIZON = {"umaze": 128, "medium": 256, "large": 384}
PAPER_STEPS = {"umaze": 64, "medium": 256, "large": 256}


def parse_ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} must name at least one integer, got {text!r}")
    return values


@dataclass
class DiffuserConfig(TrainConfig):
    maze: MazeName = "umaze"  # the D4RL maze2d layout
    n_data: int = 100_000  # env steps of the waypoint-controller stream (D4RL: 1e6)
    data_seed: int = 0  # seed of the waypoint controller's data stream
    horizon: int = 0  # longest plan and training window; 0: the paper's 128 / 256 / 384
    min_horizon: int = 0  # shortest plan (variable-length plans); 0: the horizon only, as in the paper
    horizon_step: int = 16  # spacing of the plan lengths between min_horizon and horizon
    with_actions: bool = True  # diffuse [a, s] as Diffuser does, or the states alone
    dim: int = 32  # channels of the temporal U-Net at full horizon
    # temporal U-Net channel multipliers, one per level; each level halves the horizon
    dim_mults: str = "1,2,4"
    diffusion_steps: int = 20  # ancestral sampling steps; 0: the paper's 64 / 256 / 256
    track_kp: float = 10.0  # the tracking controller's gains (Diffuser: 1, 1; see genlab.robotics.planning)
    track_kv: float = 1.0  # the tracking controller's velocity gain (track_kp: its position gain)
    bc_steps: int = 5000  # the goal-conditioned BC baseline, trained as the stage ``bc``
    bc_hidden: int = 256  # width of the BC baseline's MLP
    bc_batch_size: int = 256  # batch size of the BC baseline's training
    steps: int = 10_000
    batch_size: int = 32
    lr: float = 5e-4
    warmup: int = 200
    ema_decay: float = 0.995
    log_every: int = 100
    ckpt_every: int = 2000


def state_normalizer(stream: np.ndarray, maze: str, act_dim: int) -> LimitsNormalizer:
    """The stream's normalizer widened to every reachable state and action, so that a start or goal anywhere
    in the maze is encoded exactly (the data's min/max alone would clip starts near the walls)."""
    lo, hi = get_maze(maze).state_bounds()
    return LimitsNormalizer.fit(stream).widened(np.r_[[-1.0] * act_dim, lo], np.r_[[1.0] * act_dim, hi])


class DiffuserTask:
    """The stream (normalised, as windows by start index), the Diffuser and its temporal U-Net, and the
    goal-conditioned BC baseline on the same data."""

    def __init__(self, cfg: DiffuserConfig, condition_goal: bool = True):
        self.cfg = cfg
        self.horizon = cfg.horizon or PAPER_HORIZON[cfg.maze]
        self.horizons = self.horizon_grid(cfg, self.horizon)
        mults = parse_ints(cfg.dim_mults, "dim_mults")
        self.data = build_dataset(cfg.maze, cfg.n_data, cfg.data_seed, progress=False)
        if len(self.data) < self.horizon:
            raise ValueError(f"n_data={cfg.n_data} is shorter than the horizon {self.horizon}")
        stream = transitions(self.data, cfg.with_actions)
        normalizer = state_normalizer(stream, cfg.maze, ACT_DIM if cfg.with_actions else 0)
        self.stream = torch.as_tensor(normalizer.normalize(stream), dtype=torch.float32)
        self.train_set = TensorDataset(torch.arange(len(stream) - self.horizon + 1))
        self.diffuser = Diffuser(
            normalizer,
            ACT_DIM if cfg.with_actions else 0,
            self.horizons,
            condition_goal=condition_goal,
            steps=cfg.diffusion_steps or PAPER_STEPS[cfg.maze],
        )
        self.model = TemporalUnet(normalizer.dim, cfg.dim, mults)
        bad = [h for h in self.horizons if h % self.model.factor]
        if bad:
            raise ValueError(
                f"horizons {bad} are not divisible by {self.model.factor} (2^(len(dim_mults) - 1))"
            )
        self.bc_normalizer = LimitsNormalizer.fit(self.data.observations)
        self.bc = GoalBC(cfg.bc_hidden)
        self.bc_trained = False

    @staticmethod
    def horizon_grid(cfg: DiffuserConfig, horizon: int) -> tuple[int, ...]:
        """``min_horizon, min_horizon + horizon_step, ..., horizon`` (the horizon alone if min_horizon is 0)."""
        low = cfg.min_horizon or horizon
        if not 2 <= low <= horizon or cfg.horizon_step < 1:
            raise ValueError(
                f"need 2 <= min_horizon <= horizon and horizon_step >= 1, got {cfg.min_horizon}, {horizon}, "
                f"{cfg.horizon_step}"
            )
        return tuple(sorted({*range(low, horizon, cfg.horizon_step), horizon}))

    def loss(self, model, batch):
        self.stream = self.stream.to(batch.device)
        return self.diffuser.loss(model, windows(self.stream, batch, self.horizon))

    def planner(self, model, **options) -> Planner:
        return Planner(self.diffuser, model, self.cfg.maze, dt=self.data.dt, **options)

    def trackers(self, planner: Planner, replan_every: int = 0, record: list | None = None):
        """``make_policy(task)`` for ``scores.evaluate``: a PlanTracker with the run's controller gains, seeded
        by the task; ``record`` collects the trackers (their plans and paths)."""
        device = next(planner.model.parameters()).device
        gains = (self.cfg.track_kp, self.cfg.track_kv)

        def make(task) -> PlanTracker:
            generator = torch.Generator(device).manual_seed(task.policy_seed)
            tracker = PlanTracker(planner, replan_every, gains=gains, generator=generator)
            if record is not None:
                record.append(tracker)
            return tracker

        return make

    def fit_bc(self, run_dir) -> None:
        """Train the BC baseline (stage ``bc``) on every step of the stream."""
        cfg = self.cfg
        bc_cfg = self.stage_cfg(
            steps=cfg.bc_steps,
            batch_size=cfg.bc_batch_size,
            lr=1e-3,
            ema_decay=0.999,
            ckpt_every=cfg.bc_steps,
        )
        data = bc_dataset(self.data, self.bc_normalizer)
        self.bc = train_stage("bc", self.bc, bc_loss, data, bc_cfg, run_dir)
        self.bc_trained = True

    def load_bc(self, run_dir) -> None:
        """Reload the BC stage of a run; a run without one evaluates without the BC row, and says so."""
        found = latest(Path(run_dir) / "stages" / "bc" / "checkpoints", need=EVAL_FILES)
        if found is None:
            warnings.warn(f"{run_dir} has no trained BC stage: the BC baseline is left out", stacklevel=2)
            return
        load_weights(self.bc, found.path / "ema.safetensors")
        self.bc_trained = True

    def bc_policy(self) -> Policy:
        return cloned_policy(self.bc.eval(), self.bc_normalizer)

    def stage_cfg(self, **overrides) -> TrainConfig:
        """This run's TrainConfig fields with ``overrides``, for an earlier stage."""
        fields = {f.name: getattr(self.cfg, f.name) for f in dataclasses.fields(TrainConfig)}
        return TrainConfig(**{**fields, **overrides})
