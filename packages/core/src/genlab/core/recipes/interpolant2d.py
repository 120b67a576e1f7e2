"""``interpolant-2d``: stochastic interpolants between two 2D distributions (Albergo and
Vanden-Eijnden 2023; Albergo, Boffi and Vanden-Eijnden 2023). One run trains four variants,
linear and trigonometric interpolants with gamma = 0 and gamma > 0, each learning the velocity b
by the quadratic objective G(v) and, where gamma > 0, E[z | x_t] for the score; it compares ODE
sampling with SDE sampling by sliced Wasserstein to held-out data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.checkpoint import EVAL_FILES, latest, load_weights
from genlab.core.data import heldout_generator
from genlab.core.data.toy2d import get_density
from genlab.core.flow.interpolants import Interpolant, sample_sde, sample_time
from genlab.core.flow.matching import sample_flow
from genlab.core.metrics.distances import sliced_wasserstein
from genlab.core.nn.mlp import TimeMLP
from genlab.core.plotting import scatter_2d
from genlab.core.recipe import Recipe
from genlab.core.run import train_stage
from genlab.core.trainer import TrainConfig


class InterpolantNet(nn.Module):
    """One MLP with two heads, the velocity b(x, t) and eta(x, t) = E[z | x_t = x]; ``forward`` returns
    the velocity (what samplers integrate) or, with ``both=True``, [b, eta] from one pass (training,
    so that DDP sees a single forward per step)."""

    def __init__(self, hidden: int, depth: int):
        super().__init__()
        self.net = TimeMLP(2, hidden, depth, out_dim=4)

    def forward(self, x, t, both: bool = False):
        out = self.net(x, t)
        return out if both else out[:, :2]

    def eta(self, x, t):
        return self.net(x, t)[:, 2:]


@dataclass
class Interpolant2DConfig(TrainConfig):
    # the density x1 at t = 1 that samples start from; noise: N(0, I)
    source: Literal["noise", "8gaussians", "checkerboard", "moons", "rings"] = "8gaussians"
    density: Literal["moons", "checkerboard", "8gaussians", "rings", "swissroll", "grid25"] = "moons"
    a: float = 1.0  # gamma(t)^2 = a t (1 - t) for the stochastic variants
    # diffusion eps of the SDE sampler dX = (b - eps s) dt + sqrt(2 eps) dW (scaled by gamma^2 / a)
    sde_eps: float = 1.0
    sample_steps: int = 100
    n_train: int = 100_000
    hidden: int = 256
    depth: int = 4
    n_eval: int = 5000
    steps: int = 4000  # per variant
    batch_size: int = 1024
    lr: float = 2e-3
    warmup: int = 200
    log_every: int = 100
    ckpt_every: int = 1000


VARIANTS = (("linear", False), ("trig", False), ("linear", True), ("trig", True))


class Interpolant2DTask:
    n_show = 5000

    def __init__(self, cfg: Interpolant2DConfig):
        if cfg.a <= 0:
            raise ValueError(f"a sets gamma for the stochastic variants and must be > 0, got {cfg.a}")
        self.cfg = cfg
        self.density = get_density(cfg.density)
        self.source = get_density(cfg.source)
        self.train_set = TensorDataset(
            self.density.sample(cfg.n_train, torch.Generator().manual_seed(cfg.seed))
        )
        self.test = self.density.sample(cfg.n_eval, heldout_generator(cfg.seed))
        self.eval_source = self.source.sample(cfg.n_eval, torch.Generator().manual_seed(cfg.seed + 30_000))
        self.models: dict[str, InterpolantNet] = {}
        self.model = InterpolantNet(cfg.hidden, cfg.depth)  # the last variant

    @staticmethod
    def name(kind: str, stochastic: bool) -> str:
        return f"{kind}-{'sde' if stochastic else 'ode'}"

    def interpolant(self, kind: str, stochastic: bool) -> Interpolant:
        return Interpolant(kind, self.cfg.a if stochastic else 0.0)

    def loss_for(self, kind: str, stochastic: bool):
        interpolant = self.interpolant(kind, stochastic)

        def loss(model, x0):
            # G(v) = E[|b|^2 - 2 (dx_t/dt) . b] and, for gamma > 0, E|eta - z|^2, from one forward pass
            x1 = self.source.sample(len(x0)).to(x0)
            t = sample_time(len(x0), x0.device, x0.dtype)
            xt, dxt, z = interpolant.sample(x0, x1, t)
            out = model(xt, t, both=True)
            b, eta = out[:, :2], out[:, 2:]
            g = (b.square() - 2 * dxt * b).sum(1).mean()
            logs = {"G": g.item()}
            if not stochastic:
                return g, logs
            z_loss = (eta - z).square().sum(1).mean()
            logs["noise_loss"] = z_loss.item()
            return g + z_loss, logs

        return loss

    def fit(self, cfg: Interpolant2DConfig, run_dir: Path | None) -> nn.Module:
        stage = TrainConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainConfig)})
        for i, (kind, stochastic) in enumerate(VARIANTS):
            name = self.name(kind, stochastic)
            model = self.model if i == len(VARIANTS) - 1 else InterpolantNet(cfg.hidden, cfg.depth)
            stage_name = "" if model is self.model else name
            self.models[name] = train_stage(
                stage_name, model, self.loss_for(kind, stochastic), self.train_set, stage, run_dir
            )
        return self.models[self.name(*VARIANTS[-1])]

    def load_stages(self, run_dir: Path) -> None:
        for kind, stochastic in VARIANTS[:-1]:
            found = latest(
                Path(run_dir) / "stages" / self.name(kind, stochastic) / "checkpoints", need=EVAL_FILES
            )
            if found is not None:
                model = InterpolantNet(self.cfg.hidden, self.cfg.depth)
                load_weights(model, found.path / "ema.safetensors")
                self.models[self.name(kind, stochastic)] = model
        self.models[self.name(*VARIANTS[-1])] = self.model

    def sample(self, model, n):
        x1 = self.source.sample(n, torch.Generator().manual_seed(self.cfg.seed + 1))
        return sample_flow(model, x1, self.cfg.sample_steps, "rk4")

    def evaluate(self, model):
        self.models.setdefault(self.name(*VARIANTS[-1]), model)
        results = {"sw_source_to_target": sliced_wasserstein(self.eval_source, self.test)}
        for kind, stochastic in VARIANTS:
            net = self.models.get(self.name(kind, stochastic))
            if net is None:
                continue
            ode = sample_flow(net, self.eval_source, self.cfg.sample_steps, "rk4")
            results[f"{kind}_gamma{int(stochastic)}_sw_ode"] = sliced_wasserstein(ode, self.test)
            if stochastic:
                with torch.no_grad():
                    sde = sample_sde(
                        net,
                        net.eta,
                        self.interpolant(kind, True),
                        self.eval_source,
                        steps=4 * self.cfg.sample_steps,
                        eps=self.cfg.sde_eps,
                        generator=torch.Generator().manual_seed(3),
                    )
                results[f"{kind}_gamma1_sw_sde"] = sliced_wasserstein(sde, self.test)
        return results

    def save_samples(self, samples, out: Path) -> Path:
        panels = {"source": self.eval_source, f"target: {self.cfg.density}": self.test}
        for name, net in self.models.items():
            panels[name.replace("-sde", " (gamma>0)").replace("-ode", " (gamma=0)")] = sample_flow(
                net, self.eval_source, self.cfg.sample_steps, "rk4"
            )
        return scatter_2d(panels, out)


RECIPE = Recipe(
    name="interpolant-2d",
    description="Stochastic interpolants between 2D densities: linear vs trigonometric, gamma = 0 vs > 0, ODE vs SDE",
    config=Interpolant2DConfig,
    build=Interpolant2DTask,
    presets={
        "smoke": {
            "steps": 30,
            "n_train": 2048,
            "batch_size": 256,
            "hidden": 32,
            "depth": 2,
            "warmup": 5,
            "n_eval": 300,
            "sample_steps": 10,
            "log_every": 10,
            "ckpt_every": 15,
        },
        "paper": {"steps": 20_000, "hidden": 512, "depth": 5, "batch_size": 4096, "n_train": 1_000_000},
    },
)
