"""``diffusion-2d``: Gaussian diffusion on a 2D density with an MLP, any schedule, prediction kind,
loss weighting, noise-level sampler and sampler chosen by flag (Ho et al. 2020; Song et al. 2021;
Kingma & Gao 2023 for the weightings; Lu et al. 2022 for DPM-Solver++).

Evaluation: sliced Wasserstein of the chosen sampler and of 1000-step ancestral sampling against
held-out data, and the exact negative log-likelihood of held-out points through the
probability-flow ODE (Song et al. 2021, Sec. 4.3), next to the density's true entropy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import TensorDataset

from genlab.core.data import heldout_generator
from genlab.core.data.toy2d import get_density
from genlab.core.diffusion import Denoiser, diffusion_loss, get_schedule, log_likelihood, sample_prior
from genlab.core.diffusion.registry import (
    GridName,
    KindName,
    SamplerName,
    ScheduleName,
    sample_nfe,
)
from genlab.core.metrics.distances import sliced_wasserstein
from genlab.core.nn.mlp import TimeMLP
from genlab.core.plotting import scatter_2d
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig

DensityName = Literal[
    "checkerboard", "8gaussians", "ring8", "grid25", "gaussian", "moons", "swissroll", "rings"
]


@dataclass
class Diffusion2DConfig(TrainConfig):
    density: DensityName = "checkerboard"
    n_train: int = 100_000
    hidden: int = 256
    depth: int = 4
    schedule: ScheduleName = "cosine"
    kind: KindName = "v"
    # the loss's weighting w(t) on the eps-loss (Kingma & Gao); kind: plain MSE in the predicted kind
    weighting: Literal["kind", "uniform", "eps", "x0", "v", "min_snr", "edm", "sigmoid"] = "kind"
    t_sampler: Literal["uniform", "stratified", "logit_normal", "log_normal"] = "stratified"
    sampler: SamplerName = "dpmpp_2m"
    grid: GridName = "logsnr"
    nfe: int = 10
    t_max: float = 0.98  # the logsnr grid's steps lie in [t_min, t_max] (chosen by a sweep, see docs)
    t_min: float = 0.1  # the logsnr grid jumps from t_min straight to 0 (other grids ignore it)
    reference_steps: int = 1000  # ancestral steps of the reference sampler; 0 skips it
    n_eval: int = 10_000
    n_nll: int = 2000  # held-out points for the ODE likelihood; 0 skips it
    nll_t_min: float = 1e-3  # the ODE starts here: below, the checkerboard's edges make it stiff
    steps: int = 8000
    batch_size: int = 1024
    lr: float = 2e-3
    warmup: int = 200
    ema_decay: float = 0.999
    log_every: int = 100
    ckpt_every: int = 2000


class Diffusion2DTask:
    n_show = 20_000

    def __init__(self, cfg: Diffusion2DConfig):
        self.cfg = cfg
        self.density = get_density(cfg.density)
        self.train_set = TensorDataset(
            self.density.sample(cfg.n_train, torch.Generator().manual_seed(cfg.seed))
        )
        self.test = self.density.sample(cfg.n_eval, heldout_generator(cfg.seed))
        self.schedule = get_schedule(cfg.schedule)
        self.model = TimeMLP(2, cfg.hidden, cfg.depth)

    def denoiser(self, model) -> Denoiser:
        return Denoiser(model, self.schedule, self.cfg.kind)

    def loss(self, model, x0):
        cfg = self.cfg
        weighting = None if cfg.weighting == "kind" else cfg.weighting
        return diffusion_loss(self.denoiser(model), x0, t_sampler=cfg.t_sampler, weighting=weighting)

    def _sample(self, model, n, sampler, grid, nfe):
        device = next(model.parameters()).device
        gen = torch.Generator().manual_seed(self.cfg.seed + 1)
        x = sample_prior(self.schedule, (n, 2), generator=gen).to(device)
        den, cfg = self.denoiser(model), self.cfg
        return sample_nfe(den, sampler, grid, nfe, x, t_min=cfg.t_min, t_max=cfg.t_max, generator=gen).cpu()

    def sample(self, model, n):
        return self._sample(model, n, self.cfg.sampler, self.cfg.grid, self.cfg.nfe)

    def evaluate(self, model):
        cfg = self.cfg
        reference = self.density.sample(cfg.n_eval, torch.Generator().manual_seed(cfg.seed + 20_000))
        out = {
            "sliced_wasserstein": sliced_wasserstein(self.sample(model, cfg.n_eval), self.test),
            "sliced_wasserstein_data_floor": sliced_wasserstein(reference, self.test),
            "nfe": float(cfg.nfe),
        }
        if cfg.reference_steps:
            ancestral = self._sample(model, cfg.n_eval, "ancestral", "uniform", cfg.reference_steps)
            out["sliced_wasserstein_ancestral"] = sliced_wasserstein(ancestral, self.test)
            out["sw_ratio_to_ancestral"] = out["sliced_wasserstein"] / out["sliced_wasserstein_ancestral"]
        if cfg.n_nll:
            points = self.test[: cfg.n_nll].to(next(model.parameters()).device)
            nll = -log_likelihood(self.denoiser(model), points, t_min=cfg.nll_t_min).mean().item()
            entropy = self.density.nll_floor
            out.update(nll=nll, entropy=entropy, nll_gap=nll - entropy)
        return out

    def save_samples(self, samples, out: Path) -> Path:
        title = f"{self.cfg.sampler}, {self.cfg.nfe} NFE"
        return scatter_2d({f"target: {self.cfg.density}": self.test, title: samples}, out)


RECIPE = Recipe(
    name="diffusion-2d",
    description="Gaussian diffusion on a 2D density (schedule, prediction kind, sampler by flag); SW and ODE NLL",
    config=Diffusion2DConfig,
    build=Diffusion2DTask,
    presets={
        "smoke": {
            "steps": 60,
            "n_train": 4096,
            "batch_size": 256,
            "hidden": 64,
            "depth": 3,
            "warmup": 10,
            "n_eval": 1000,
            "n_nll": 64,
            "reference_steps": 50,
            "log_every": 10,
            "ckpt_every": 30,
        },
        "paper": {"steps": 30_000, "batch_size": 4096, "hidden": 512, "depth": 5, "n_train": 1_000_000},
    },
)
