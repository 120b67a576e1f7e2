"""``consistency-digits``: consistency distillation of a ``diffusion-digits`` teacher (Song et al.
2023, Algorithm 2), guided at a fixed scale as in latent consistency models (Luo et al. 2023).

The consistency function is f(x, t) = c_skip(t) x + c_out(t) x0_hat(x, t): x0_hat is the teacher's
network (initialised from its weights), c_skip, c_out are the boundary scalings of the paper
(``edm_scalings`` with sigma_min, c_out normalised to 1 at high noise), so f(x, t_min) = x / alpha
exactly. A narrow ``boundary_width`` (sigma_data of the scalings) keeps f close to the teacher's
denoiser away from t_min, LCM's choice. The loss compares f(x_t, t) with the EMA target f-(x_s, s),
x_s one Heun step of the guided teacher's probability-flow ODE, on N Karras times (EDM eq. 5).
Sampling: Algorithm 1, one step or two (re-noised to ``mid_sigma``).

The target network is not checkpointed: a resumed run restarts it from the resumed weights, a
deviation that decays as ``target_decay`` ** steps (0.95: below 1e-3 after 135 steps).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.diffusion import (
    Denoiser,
    consistency_distillation_loss,
    edm_scalings,
    ema_update_,
    sample_consistency,
)
from genlab.core.diffusion.schedules import Schedule
from genlab.core.grids import karras_grid
from genlab.core.recipe import Recipe
from genlab.core.recipes.diffusion_digits import DigitsEval, FromTeacher, class_grid, to_images
from genlab.core.run import train_stage
from genlab.core.tensors import append_dims
from genlab.core.trainer import TrainConfig

SIGMA_MIN, SIGMA_MAX = 0.002, 80.0  # sigma / alpha at the ends of the grid (EDM's)


class ConsistencyFunction(nn.Module):
    """f(x, t, y) = c_skip x + (c_out / sigma_data) x0_hat(x, t, y), the boundary-conditioned
    consistency model around a denoising network of prediction ``kind``."""

    def __init__(self, net: nn.Module, schedule: Schedule, kind: str, width: float):
        super().__init__()
        self.net, self.schedule, self.kind, self.width = net, schedule, kind, width

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        alpha, sigma = self.schedule.alpha_sigma(t)
        c_skip, c_out, _, _ = edm_scalings(alpha, sigma, self.width, SIGMA_MIN)
        x0 = Denoiser(self.net, self.schedule, self.kind).x0(x, t, y=y)
        return append_dims(c_skip, x.ndim) * x + append_dims(c_out / self.width, x.ndim) * x0


@dataclass
class ConsistencyDigitsConfig(TrainConfig):
    teacher: str = ""  # a diffusion-digits run directory; empty: train one (stage "teacher")
    # preset of the diffusion-digits teacher trained when --teacher is empty
    teacher_preset: Literal["smoke", "default"] = "default"
    guidance: float = 1.0  # the guided teacher whose ODE is distilled
    n_grid: int = 18  # N, the number of discretisation times
    # the teacher's ODE step from t to the adjacent grid time s (Phi in Algorithm 2)
    solver: Literal["euler", "heun"] = "heun"
    # d of the CD loss: mean squared error, or sqrt(|a - b|^2 + c^2) - c with c = 0.00054 sqrt(dim)
    distance: Literal["l2", "pseudo_huber"] = "l2"
    target_decay: float = 0.95  # mu of the target network
    # sigma_data of the c_skip / c_out boundary scalings: how fast f hands over from x to the network
    boundary_width: float = 0.05
    mid_sigma: float = 0.8  # sigma / alpha of the intermediate time of two-step sampling
    n_eval: int = 1000
    steps: int = 3000
    batch_size: int = 128
    lr: float = 2e-4
    warmup: int = 50
    ema_decay: float = 0.995
    log_every: int = 100
    ckpt_every: int = 1000


class ConsistencyDigitsTask(FromTeacher):
    n_show = 100

    def __init__(self, cfg: ConsistencyDigitsConfig):
        self.cfg = cfg
        self.setup_teacher(cfg)
        self.schedule = self.teacher_task.schedule
        self.train_set: TensorDataset = self.teacher_task.train_set
        net = copy.deepcopy(self.teacher_task.model).requires_grad_(True)
        self.model = ConsistencyFunction(net, self.schedule, self.teacher_task.cfg.kind, cfg.boundary_width)
        self.grid = karras_grid(cfg.n_grid, schedule=self.schedule, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX)[
            :-1
        ]
        self.eval = DigitsEval(cfg.n_eval, cfg.seed)

    def denoiser(self, model) -> Denoiser:
        return Denoiser(model, self.schedule, "x0")

    def fit(self, cfg: ConsistencyDigitsConfig, run_dir: Path) -> nn.Module:
        teacher_model = self.fit_teacher(run_dir)
        self.model.net.load_state_dict(teacher_model.state_dict())
        teacher = self.teacher_task.denoiser(teacher_model, cfg.guidance)
        target: nn.Module | None = None

        def loss(model, batch):
            nonlocal target
            if target is None:  # the weights this process starts from: the teacher's, or a resumed step's
                target = copy.deepcopy(self.model).requires_grad_(False)
            ema_update_(target, model, cfg.target_decay)  # the previous step's weights
            x0, y = batch
            return consistency_distillation_loss(
                self.denoiser(model),
                self.denoiser(target),
                teacher,
                x0,
                self.grid.to(x0),
                solver=cfg.solver,
                distance=cfg.distance,
                cond={"y": y},
            )

        return train_stage("", self.model, loss, self.train_set, cfg, run_dir)

    @torch.no_grad()
    def generate(self, model, steps: int, n: int) -> torch.Tensor:
        device = next(model.parameters()).device
        t_max = float(self.grid[0])
        t_mid = float(self.schedule.t_from_logsnr(torch.tensor(-2 * math.log(self.cfg.mid_sigma))))
        times = {1: [t_max, 0.0], 2: [t_max, t_mid, 0.0]}[steps]
        grid = torch.tensor(times)[:, None].expand(-1, n).to(device)
        _, sigma = self.schedule.alpha_sigma(torch.tensor(t_max))
        x, y = (sigma * self.eval.noise[:n]).to(device), self.eval.labels[:n].to(device)
        gen = torch.Generator(device=device).manual_seed(self.cfg.seed + 2)
        out = sample_consistency(self.denoiser(model), x, grid, generator=gen, cond={"y": y})
        return to_images(out).cpu()

    def sample(self, model, n):
        return self.generate(model, 1, n)

    def evaluate(self, model):
        out = {}
        for steps in (1, 2):
            out.update(self.eval(self.generate(model, steps, self.cfg.n_eval), f"cm{steps}/"))
        return out

    def save_samples(self, samples, out: Path) -> Path:
        title = f"consistency distillation, one step, w = {self.cfg.guidance:g}"
        return class_grid(samples, out, title)


RECIPE = Recipe(
    name="consistency-digits",
    description="Consistency distillation (Song et al. 2023) of a guided diffusion-digits teacher",
    config=ConsistencyDigitsConfig,
    build=ConsistencyDigitsTask,
    presets={
        "smoke": {
            "teacher_preset": "smoke",
            "steps": 10,
            "batch_size": 64,
            "warmup": 2,
            "n_eval": 100,
            "log_every": 5,
            "ckpt_every": 10,
        },
        "paper": {"n_grid": 40, "steps": 50_000, "batch_size": 512, "distance": "pseudo_huber"},
    },
)
