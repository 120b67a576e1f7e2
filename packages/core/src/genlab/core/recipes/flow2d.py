"""``flow-2d``: conditional flow matching on 2D densities (Lipman et al. 2023), from Gaussian noise
or from another density (Albergo and Vanden-Eijnden 2023), with any path and coupling
(Tong et al. 2024); an MLP velocity field and an ODE sampler. Evaluated by sliced Wasserstein to
held-out data and, from noise, by the exact negative log-likelihood through the ODE."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import TensorDataset

from genlab.core.data import heldout_generator
from genlab.core.data.toy2d import get_density
from genlab.core.flow.couplings import get_coupling
from genlab.core.flow.matching import cfm_loss, sample_flow, sb_cfm_loss
from genlab.core.flow.paths import get_path
from genlab.core.flow.rectified import simulate, straightness
from genlab.core.likelihood import gaussian_log_prob, log_likelihood
from genlab.core.metrics.distances import mmd, sliced_wasserstein
from genlab.core.nn.mlp import TimeMLP
from genlab.core.ode import EVALS_PER_STEP
from genlab.core.plotting import scatter_2d
from genlab.core.recipe import Recipe
from genlab.core.tensors import model_device
from genlab.core.trainer import TrainConfig

DensityName = Literal[
    "checkerboard", "8gaussians", "ring8", "grid25", "gaussian", "moons", "swissroll", "rings"
]


@dataclass
class Flow2DConfig(TrainConfig):
    density: DensityName = "checkerboard"
    source: Literal[
        "noise", "checkerboard", "8gaussians", "ring8", "grid25", "moons", "swissroll", "rings"
    ] = "noise"  # the density x1 at t = 1 that the flow starts from; noise: N(0, I)
    # the interpolation x_t = alpha(t) x0 + sigma(t) x1 (genlab.core.flow.paths)
    path: Literal["linear", "condot", "trig", "vp", "cosine"] = "linear"
    coupling: Literal["independent", "ot", "sb"] = "independent"  # sb: Schrodinger-bridge CFM
    # sigma of the Schrodinger bridge (coupling sb only): entropic OT reg 2 sigma^2, bridge noise
    sb_sigma: float = 0.5
    n_train: int = 100_000
    hidden: int = 256
    depth: int = 4
    # ODE solver of sampling; dopri5 is adaptive and ignores sample_steps
    method: Literal["euler", "midpoint", "heun", "rk4", "dopri5"] = "heun"
    sample_steps: int = 50
    n_eval: int = 10_000
    n_nll: int = 2000  # held-out points for the ODE likelihood (0: skip); needs a noise source
    steps: int = 6000
    batch_size: int = 1024
    lr: float = 2e-3
    warmup: int = 200
    ema_decay: float = 0.999
    log_every: int = 100
    ckpt_every: int = 2000

    def validate(self) -> None:
        super().validate()
        for name in ("n_train", "hidden", "depth", "sample_steps", "n_eval"):
            self.require(name, 1)
        self.require("n_nll", 0)
        self.require("sb_sigma", 0)


class Flow2DTask:
    n_show = 20_000  # points in the sample figure

    def __init__(self, cfg: Flow2DConfig):
        self.cfg = cfg
        self.density = get_density(cfg.density)
        self.source = get_density(cfg.source)
        self.path = get_path(cfg.path)
        self.coupling = None if cfg.coupling in ("independent", "sb") else get_coupling(cfg.coupling)
        self.train_set = TensorDataset(
            self.density.sample(cfg.n_train, torch.Generator().manual_seed(cfg.seed))
        )
        self.test = self.density.sample(cfg.n_eval, heldout_generator(cfg.seed))
        self.model = TimeMLP(2, cfg.hidden, cfg.depth)

    def loss(self, model, x0):
        x1 = self.source.sample(len(x0)).to(x0)
        if self.cfg.coupling == "sb":
            return sb_cfm_loss(model, x0, x1, self.cfg.sb_sigma), {}
        t_min = 1e-3 if self.cfg.path == "vp" else 0.0
        return cfm_loss(model, x0, x1, path=self.path, coupling=self.coupling, t_min=t_min), {}

    def sample(self, model, n):
        x1 = self.source.sample(n, torch.Generator().manual_seed(self.cfg.seed + 1))
        return sample_flow(model, x1, self.cfg.sample_steps, self.cfg.method)

    def nll(self, model) -> float:
        """Mean -log p of held-out points by the exact divergence along the ODE (dopri5), in nats."""
        x = self.test[: self.cfg.n_nll].double().to(model_device(model, self.test.device))
        net = model.double()
        try:
            logp = log_likelihood(net, x, gaussian_log_prob, t_min=0.0, atol=1e-5, rtol=1e-5)
        finally:
            model.float()
        return -logp.mean().item()

    def evaluate(self, model):
        samples = self.sample(model, self.cfg.n_eval)
        reference = self.density.sample(
            self.cfg.n_eval, torch.Generator().manual_seed(self.cfg.seed + 20_000)
        )
        n_mmd = min(2000, self.cfg.n_eval)
        results = {
            "sliced_wasserstein": sliced_wasserstein(samples, self.test),
            "sliced_wasserstein_data_floor": sliced_wasserstein(reference, self.test),
            "mmd": mmd(samples[:n_mmd], self.test[:n_mmd]),
        }
        if self.cfg.method != "dopri5":
            results["nfe"] = float(self.cfg.sample_steps * EVALS_PER_STEP[self.cfg.method])
        x1 = self.source.sample(self.cfg.n_eval, torch.Generator().manual_seed(self.cfg.seed + 1))
        results["straightness"] = straightness(simulate(model, x1, 100))
        for nfe in (1, 2, 4, 8, 16, 32):  # how fast quality comes with Euler steps (straight flows need few)
            results[f"sw_euler_{nfe}"] = sliced_wasserstein(sample_flow(model, x1, nfe, "euler"), self.test)
        if self.cfg.source == "noise" and self.cfg.n_nll:
            results["nll_nats"] = self.nll(model)
            results["true_entropy_nats"] = self.density.nll_floor
        return results

    def save_samples(self, samples, out: Path) -> Path:
        panels = {f"target: {self.cfg.density}": self.test, "flow samples": samples}
        if self.cfg.source != "noise":
            panels = {f"source: {self.cfg.source}": self.source.sample(len(self.test)), **panels}
        return scatter_2d(panels, out)


RECIPE = Recipe(
    name="flow-2d",
    description="Conditional flow matching on 2D densities: any path, coupling, source and ODE sampler",
    config=Flow2DConfig,
    build=Flow2DTask,
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
            "sample_steps": 10,
            "log_every": 10,
            "ckpt_every": 30,
        },
        "paper": {"steps": 20_000, "batch_size": 4096, "hidden": 512, "depth": 5, "n_train": 1_000_000},
    },
)
