"""``distill-progressive-digits``: progressive distillation of a ``diffusion-digits`` teacher
(Salimans & Ho 2022, Algorithm 2), guided as in Meng et al. (2023, stage two at a fixed scale).

Round r trains a student of N / 2 DDIM steps on a uniform grid in t to match, in one step t -> s,
two DDIM steps of its teacher (t -> (t + s)/2 -> s); the student starts from the teacher's weights
and becomes the next round's teacher. The first teacher is the classifier-free-guided diffusion
model at scale ``guidance``; every student takes the label alone. Loss: MSE in v, the "SNR + 1"
weighting of the paper. Rounds are stages (``stages/student-N``); the last student (``min_steps``
steps) is the run's model. Evaluation compares every student with the teacher's DDIM at equal steps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import TensorDataset

from genlab.core.checkpoint import EVAL_FILES, latest, load_weights
from genlab.core.diffusion import Denoiser, progressive_distillation_target, sample_ddim
from genlab.core.grids import time_grid
from genlab.core.recipe import Recipe
from genlab.core.recipes.diffusion_digits import DigitsEval, FromTeacher, class_grid, to_images
from genlab.core.run import train_stage
from genlab.core.trainer import TrainConfig


@dataclass
class ProgressiveDigitsConfig(TrainConfig):
    teacher: str = ""  # a diffusion-digits run directory; empty: train one (stage "teacher")
    # preset of the diffusion-digits teacher trained when --teacher is empty
    teacher_preset: Literal["smoke", "default"] = "default"
    guidance: float = 1.0  # the guided teacher that the first student distils
    teacher_steps: int = 16  # DDIM steps of the first teacher; each round halves them
    min_steps: int = 1  # the last student's steps
    n_eval: int = 1000
    steps: int = 1500  # training steps per round
    batch_size: int = 128
    lr: float = 5e-4
    warmup: int = 50
    ema_decay: float = 0.995
    log_every: int = 100
    ckpt_every: int = 500


class ProgressiveDigitsTask(FromTeacher):
    n_show = 100

    def __init__(self, cfg: ProgressiveDigitsConfig):
        if cfg.teacher_steps < 2 * cfg.min_steps or cfg.teacher_steps % cfg.min_steps:
            raise ValueError("teacher_steps must be min_steps times a power of two (at least 2)")
        self.cfg = cfg
        self.setup_teacher(cfg)
        self.schedule, self.kind = self.teacher_task.schedule, self.teacher_task.cfg.kind
        self.train_set: TensorDataset = self.teacher_task.train_set
        self.model = copy.deepcopy(self.teacher_task.model).requires_grad_(True)
        self.rounds = []  # student steps per round
        n = cfg.teacher_steps // 2
        while n >= cfg.min_steps:
            self.rounds.append(n)
            n //= 2
        self.students: dict[int, torch.nn.Module] = {}
        self.eval = DigitsEval(cfg.n_eval, cfg.seed)

    def denoiser(self, model) -> Denoiser:
        return Denoiser(model, self.schedule, self.kind)

    def round_loss(self, teacher: Denoiser, n_steps: int):
        """Salimans & Ho's loss for a student of ``n_steps`` steps on t_i = i / n_steps."""

        def loss(model, batch):
            x0, y = batch
            i = torch.randint(1, n_steps + 1, y.shape, device=y.device)
            t, s = i.to(x0) / n_steps, (i - 1).to(x0) / n_steps
            x_t = self.schedule.add_noise(x0, torch.randn_like(x0), t)
            target = progressive_distillation_target(teacher, x_t, t, s, kind=self.kind, cond={"y": y})
            loss = (self.denoiser(model).raw(x_t, t, y=y) - target).square().mean()
            return loss, {"t_mean": float(t.mean())}

        return loss

    def fit(self, cfg: ProgressiveDigitsConfig, run_dir: Path) -> torch.nn.Module:
        teacher_model = self.fit_teacher(run_dir)
        self.model.load_state_dict(teacher_model.state_dict())
        teacher = self.teacher_task.denoiser(teacher_model, cfg.guidance)
        for n in self.rounds:
            name = "" if n == self.rounds[-1] else f"student-{n}"
            student = train_stage(name, self.model, self.round_loss(teacher, n), self.train_set, cfg, run_dir)
            student = student.eval().requires_grad_(False)
            self.students[n] = student
            teacher = self.denoiser(student)
            self.model = copy.deepcopy(student).requires_grad_(True)
        return self.students[self.rounds[-1]]

    def load_stages(self, run_dir: Path) -> None:
        """Reload the intermediate students (and a teacher trained in this run), so ``genlab eval``
        reports every round."""
        stages = Path(run_dir) / "stages"
        for n in self.rounds[:-1]:
            found = latest(stages / f"student-{n}" / "checkpoints", need=EVAL_FILES)
            if found is not None:
                self.students[n] = copy.deepcopy(self.model).requires_grad_(False)
                load_weights(self.students[n], found.path / "ema.safetensors")
        found = latest(stages / "teacher" / "checkpoints", need=EVAL_FILES)
        if self.teacher_model is None and found is not None:
            self.teacher_model = copy.deepcopy(self.teacher_task.model).requires_grad_(False)
            load_weights(self.teacher_model, found.path / "ema.safetensors")

    @torch.no_grad()
    def ddim(self, den: Denoiser, steps: int, n: int) -> torch.Tensor:
        device = next(den.parameters()).device
        _, sigma = self.schedule.alpha_sigma(torch.ones(()))
        x, y = (sigma * self.eval.noise[:n]).to(device), self.eval.labels[:n].to(device)
        return to_images(sample_ddim(den, x, time_grid(steps, (n,)).to(x), cond={"y": y})).cpu()

    def sample(self, model, n):
        return self.ddim(self.denoiser(model), self.rounds[-1], n)

    def evaluate(self, model):
        cfg, out = self.cfg, {}
        students = {**self.students, self.rounds[-1]: model}
        for n, student in sorted(students.items()):
            out.update(self.eval(self.ddim(self.denoiser(student), n, cfg.n_eval), f"student{n}/"))
        if self.teacher_model is not None:
            teacher = self.teacher_task.denoiser(self.teacher_model, cfg.guidance)
            for n in sorted(students):
                out.update(self.eval(self.ddim(teacher, n, cfg.n_eval), f"teacher_ddim{n}/"))
        return out

    def save_samples(self, samples, out: Path) -> Path:
        title = f"progressive distillation, {self.rounds[-1]} step(s), w = {self.cfg.guidance:g}"
        return class_grid(samples, out, title)


RECIPE = Recipe(
    name="distill-progressive-digits",
    description="Progressive distillation (Salimans & Ho 2022) of a guided diffusion-digits teacher",
    config=ProgressiveDigitsConfig,
    build=ProgressiveDigitsTask,
    presets={
        "smoke": {
            "teacher_preset": "smoke",
            "teacher_steps": 4,
            "steps": 10,
            "batch_size": 64,
            "warmup": 2,
            "n_eval": 100,
            "log_every": 5,
            "ckpt_every": 10,
        },
        "paper": {"teacher_steps": 1024, "steps": 10_000, "batch_size": 512, "lr": 2e-4},
    },
)
