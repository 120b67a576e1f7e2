"""``diffusion-digits``: class-conditional Gaussian diffusion on 8x8 digits with a small U-Net and
classifier-free guidance (Ho & Salimans 2021: labels dropped with probability p_uncond in training,
eps~ = (1 + w) eps(x, y) - w eps(x, null) in sampling; w = 0 is the conditional model).

v-prediction (Salimans & Ho 2022) on a cosine schedule keeps x0 well defined at t = 1, which the
distillation recipes started from this one rely on. Evaluation: for each guidance scale, the class
accuracy of the samples (by the shipped digits classifier) and their FD-digits to the test split,
the trade-off that guidance buys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from genlab.core.data.digits import load_digits
from genlab.core.diffusion import (
    ClassifierFreeGuidance,
    Denoiser,
    diffusion_loss,
    drop_condition,
    get_schedule,
)
from genlab.core.diffusion.registry import GridName, KindName, SamplerName, ScheduleName, sample_nfe
from genlab.core.metrics.digits_classifier import class_accuracy, fd_digits
from genlab.core.nn.unet import UNet
from genlab.core.plotting import image_grid
from genlab.core.recipe import Recipe
from genlab.core.run import load_run, train_stage
from genlab.core.trainer import TrainConfig

N_CLASSES = 10


def to_images(x: torch.Tensor) -> torch.Tensor:
    """Model space [-1, 1] to images in [0, 1]."""
    return ((x + 1) / 2).clamp(0, 1)


def class_grid(samples: torch.Tensor, out: Path, title: str) -> Path:
    """samples.png of samples drawn for labels 0..9 in turn: a column per class, labelled."""
    classes = [str(c) for c in range(min(N_CLASSES, len(samples)))]
    return image_grid(samples, out, nrow=N_CLASSES, title=title, columns=classes, columns_name="class")


def parse_floats(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None


def build_unet(base: int, mults: str, blocks: int, attn: str) -> UNet:
    """The U-Net over 8x8 digits with a null class; ``mults`` and ``attn`` are comma-separated."""
    return UNet(
        1,
        base,
        tuple(int(m) for m in parse_floats(mults, "mults")),
        blocks,
        tuple(int(r) for r in parse_floats(attn, "attn")),
        num_classes=N_CLASSES,
        resolution=8,
    )


class DigitsEval:
    """Class accuracy and FD-digits of conditional samples, labels 0..9 in turn, fixed noise."""

    def __init__(self, n: int, seed: int):
        self.labels = torch.arange(n) % N_CLASSES
        self.noise = torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed + 1))
        self.reference = load_digits("test").images

    def data_floor(self) -> float:
        """FD-digits of as many held-in training digits as the test split: the metric's noise floor."""
        train = load_digits("train").images
        return fd_digits(train[: len(self.reference)], self.reference)

    def __call__(self, images: torch.Tensor, prefix: str = "") -> dict[str, float]:
        return {
            f"{prefix}accuracy": class_accuracy(images, self.labels[: len(images)]),
            f"{prefix}fd_digits": fd_digits(images, self.reference),
        }


@dataclass
class DiffusionDigitsConfig(TrainConfig):
    base: int = 16
    mults: str = "1,2"
    blocks: int = 2
    attn: str = ""  # resolutions with self-attention, e.g. "4"
    schedule: ScheduleName = "cosine"
    kind: KindName = "v"
    p_uncond: float = 0.1
    sampler: SamplerName = "dpmpp_2m"
    grid: GridName = "logsnr"
    nfe: int = 20
    guidance: float = 1.0  # the scale of `genlab sample` and the run's figure
    guidance_scales: str = "0,0.5,1,2,4"  # evaluated scales (w = 0: conditional model alone)
    n_eval: int = 1000
    steps: int = 4000
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 200
    ema_decay: float = 0.999
    log_every: int = 100
    ckpt_every: int = 1000


class DiffusionDigitsTask:
    n_show = 100

    def __init__(self, cfg: DiffusionDigitsConfig):
        self.cfg = cfg
        train = load_digits("train")
        self.train_set = TensorDataset(train.images * 2 - 1, train.labels)
        self.schedule = get_schedule(cfg.schedule)
        self.model = build_unet(cfg.base, cfg.mults, cfg.blocks, cfg.attn)
        self.scales = parse_floats(cfg.guidance_scales, "guidance_scales")
        self.eval = DigitsEval(cfg.n_eval, cfg.seed)

    def denoiser(self, model, scale: float | None = None) -> Denoiser:
        """The model as a Denoiser, guided with scale w unless w is None."""
        den = Denoiser(model, self.schedule, self.cfg.kind)
        return den if scale is None else ClassifierFreeGuidance(den, scale, {"y": N_CLASSES})

    def loss(self, model, batch):
        x0, y = batch
        y = drop_condition(y, self.cfg.p_uncond, N_CLASSES)
        return diffusion_loss(self.denoiser(model), x0, cond={"y": y})

    def generate(self, model, n: int, scale: float, sampler: str, grid: str, nfe: int) -> torch.Tensor:
        """n images in [0, 1] with labels 0..9 in turn, from the fixed evaluation noise."""
        device = next(model.parameters()).device
        noise = self.eval.noise[:n] if n <= len(self.eval.noise) else torch.randn(n, 1, 8, 8)
        _, sigma = self.schedule.alpha_sigma(torch.ones(()))
        x = (sigma * noise).to(device)
        y = (torch.arange(n) % N_CLASSES).to(device)
        out = sample_nfe(self.denoiser(model, scale), sampler, grid, nfe, x, cond={"y": y})
        return to_images(out).cpu()

    def sample(self, model, n):
        cfg = self.cfg
        return self.generate(model, n, cfg.guidance, cfg.sampler, cfg.grid, cfg.nfe)

    def evaluate(self, model):
        cfg, out = self.cfg, {}
        for w in self.scales:
            images = self.generate(model, cfg.n_eval, w, cfg.sampler, cfg.grid, cfg.nfe)
            out.update(self.eval(images, f"w{w:g}/"))
        best = max(self.scales, key=lambda w: out[f"w{w:g}/accuracy"])
        out.update(
            best_accuracy=out[f"w{best:g}/accuracy"],
            best_accuracy_scale=best,
            best_fd_digits=min(out[f"w{w:g}/fd_digits"] for w in self.scales),
            fd_digits_data_floor=self.eval.data_floor(),
            nfe=float(cfg.nfe),
        )
        return out

    def save_samples(self, samples, out: Path) -> Path:
        title = f"w = {self.cfg.guidance:g}, {self.cfg.sampler}, {self.cfg.nfe} NFE"
        return class_grid(samples, out, title)


RECIPE = Recipe(
    name="diffusion-digits",
    description="Class-conditional diffusion on 8x8 digits with a U-Net and classifier-free guidance",
    config=DiffusionDigitsConfig,
    build=DiffusionDigitsTask,
    presets={
        "smoke": {
            "steps": 30,
            "base": 8,
            "blocks": 1,
            "batch_size": 64,
            "warmup": 5,
            "nfe": 4,
            "guidance_scales": "0,2",
            "n_eval": 100,
            "log_every": 10,
            "ckpt_every": 30,
        },
        "paper": {"steps": 50_000, "base": 64, "attn": "4", "batch_size": 512, "lr": 1e-3, "nfe": 50},
    },
)


class FromTeacher:
    """For recipes that start from a ``diffusion-digits`` teacher: the run given as ``cfg.teacher``,
    or, without one, a teacher of preset ``cfg.teacher_preset`` trained as the stage ``teacher``."""

    def setup_teacher(self, cfg) -> None:
        if cfg.teacher:
            recipe, _, task, model = load_run(Path(cfg.teacher))
            if recipe.name != RECIPE.name:
                raise ValueError(f"--teacher must be a {RECIPE.name} run, got a {recipe.name} run")
            self.teacher_model = model.requires_grad_(False)
        else:
            task = DiffusionDigitsTask(RECIPE.make_config(cfg.teacher_preset, {"seed": cfg.seed}))
            self.teacher_model = None
        self.teacher_task: DiffusionDigitsTask = task

    def fit_teacher(self, run_dir: Path) -> torch.nn.Module:
        if self.teacher_model is None:
            t = self.teacher_task
            self.teacher_model = train_stage("teacher", t.model, t.loss, t.train_set, t.cfg, run_dir)
        return self.teacher_model.eval().requires_grad_(False)
