"""``rectified-flow-2d``: 1-, 2- and 3-rectified flow and one-step distillation in one run
(Liu, Gong and Liu 2023, "Flow Straight and Fast"), with the paper's diagnostics at every stage:
transport cost of the ODE coupling for quadratic and L1 costs (Theorem 3.5: non-increasing under
reflow), straightness (Theorem 3.7), crossings of the straight interpolations, and sample quality
with 1 and 100 Euler steps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib.pyplot as plt
import torch
from torch.utils.data import TensorDataset

from genlab.core.checkpoint import EVAL_FILES, latest, load_weights
from genlab.core.data import heldout_generator
from genlab.core.data.toy2d import get_density
from genlab.core.flow.matching import cfm_loss, sample_flow
from genlab.core.flow.rectified import (
    crossing_rate,
    distill_loss,
    one_step,
    reflow_pairs,
    simulate,
    straightness,
    transport_cost,
)
from genlab.core.metrics.distances import sliced_wasserstein
from genlab.core.nn.mlp import TimeMLP
from genlab.core.recipe import Recipe
from genlab.core.run import train_stage
from genlab.core.trainer import TrainConfig

Source = Literal["noise", "8gaussians", "checkerboard", "moons", "ring8", "rings"]
Target = Literal["8gaussians", "moons", "checkerboard", "ring8", "grid25", "rings", "swissroll"]


@dataclass
class RectifiedFlow2DConfig(TrainConfig):
    source: Source = "noise"  # the density the flow starts from at t = 1; noise: N(0, I)
    density: Target = "8gaussians"
    reflows: int = 2  # 1-RF, then this many reflows (2-RF, 3-RF)
    distill_from: int = 2  # distil the k-RF into a one-step model
    reflow_steps: int = 3000  # training steps of each reflow (k-RF, k >= 2)
    distill_steps: int = 3000  # training steps of the one-step distillation
    n_train: int = 100_000
    n_pairs: int = 50_000  # (source, endpoint) pairs simulated by the ODE for each reflow or distillation
    sim_steps: int = 100  # RK4 steps when simulating the ODE to pair points
    hidden: int = 256
    depth: int = 4
    n_eval: int = 5000
    steps: int = 5000  # 1-RF
    batch_size: int = 1024
    lr: float = 2e-3
    warmup: int = 200
    log_every: int = 100
    ckpt_every: int = 1000


class RectifiedFlow2DTask:
    n_show = 5000

    def __init__(self, cfg: RectifiedFlow2DConfig):
        if not 1 <= cfg.distill_from <= cfg.reflows + 1:
            raise ValueError(f"distill_from must name a trained rectified flow, 1..{cfg.reflows + 1}")
        self.cfg = cfg
        self.density = get_density(cfg.density)
        self.source = get_density(cfg.source)
        self.train_set = TensorDataset(
            self.density.sample(cfg.n_train, torch.Generator().manual_seed(cfg.seed))
        )
        self.test = self.density.sample(cfg.n_eval, heldout_generator(cfg.seed))
        self.eval_source = self.source.sample(cfg.n_eval, torch.Generator().manual_seed(cfg.seed + 30_000))
        self.model = self.new_model()  # the distilled one-step student
        self.flows: dict[int, torch.nn.Module] = {}  # k -> k-rectified flow

    def new_model(self) -> TimeMLP:
        return TimeMLP(2, self.cfg.hidden, self.cfg.depth)

    def stage_cfg(self, steps: int) -> TrainConfig:
        fields = {f.name: getattr(self.cfg, f.name) for f in dataclasses.fields(TrainConfig)}
        return TrainConfig(**{**fields, "steps": steps})

    def pairs(self, flow: torch.nn.Module, k: int) -> TensorDataset:
        noise = self.source.sample(self.cfg.n_pairs, torch.Generator().manual_seed(self.cfg.seed + 100 + k))
        data, noise = reflow_pairs(flow, noise, self.cfg.sim_steps)
        return TensorDataset(data.detach(), noise)

    def fit(self, cfg: RectifiedFlow2DConfig, run_dir: Path | None) -> torch.nn.Module:
        def independent(model, x0):
            return cfm_loss(model, x0, self.source.sample(len(x0)).to(x0)), {}

        def paired(model, batch):
            return cfm_loss(model, batch[0], batch[1]), {}

        flow = train_stage(
            "1-rf", self.new_model(), independent, self.train_set, self.stage_cfg(cfg.steps), run_dir
        )
        self.flows[1] = flow
        for k in range(2, cfg.reflows + 2):  # reflow: retrain on the previous flow's ODE coupling
            student = self.new_model()
            student.load_state_dict(flow.state_dict())
            flow = train_stage(
                f"{k}-rf", student, paired, self.pairs(flow, k), self.stage_cfg(cfg.reflow_steps), run_dir
            )
            self.flows[k] = flow
        teacher = self.flows[cfg.distill_from]
        self.model.load_state_dict(teacher.state_dict())

        def distill(model, batch):
            return distill_loss(model, batch[0], batch[1]), {}

        return train_stage(
            "", self.model, distill, self.pairs(teacher, 0), self.stage_cfg(cfg.distill_steps), run_dir
        )

    def load_stages(self, run_dir: Path) -> None:
        """Reload every k-RF from its stage checkpoints, so ``genlab eval`` reports all stages."""
        for k in range(1, self.cfg.reflows + 2):
            found = latest(Path(run_dir) / "stages" / f"{k}-rf" / "checkpoints", need=EVAL_FILES)
            if found is not None:
                self.flows[k] = self.new_model()
                load_weights(self.flows[k], found.path / "ema.safetensors")

    def sample(self, model, n):
        return one_step(model, self.source.sample(n, torch.Generator().manual_seed(self.cfg.seed + 1))).cpu()

    @torch.no_grad()
    def diagnostics(self, flow: torch.nn.Module) -> dict[str, float]:
        path = simulate(flow, self.eval_source, self.cfg.sim_steps)
        data, noise = path[-1], path[0]
        return {
            "transport_cost_l2": transport_cost(data, noise),
            "transport_cost_l1": transport_cost(data, noise, "l1"),
            "straightness": straightness(path),
            "crossing_rate": crossing_rate(data, noise),
            "sw_100_euler": sliced_wasserstein(sample_flow(flow, self.eval_source, 100, "euler"), self.test),
            "sw_1_euler": sliced_wasserstein(sample_flow(flow, self.eval_source, 1, "euler"), self.test),
        }

    def evaluate(self, model):
        results = {}
        for k, flow in sorted(self.flows.items()):
            results.update({f"{k}rf_{name}": v for name, v in self.diagnostics(flow.eval()).items()})
        data = one_step(model, self.eval_source)
        results[f"distilled{self.cfg.distill_from}rf_sw_1_step"] = sliced_wasserstein(data, self.test)
        results["distilled_transport_cost_l2"] = transport_cost(data, self.eval_source)
        independent = self.source.sample(self.cfg.n_eval, torch.Generator().manual_seed(7))
        results["independent_coupling_cost_l2"] = transport_cost(self.test, independent)
        return results

    def save_samples(self, samples, out: Path) -> Path:
        flows = sorted(self.flows.items())
        fig, axes = plt.subplots(
            1, len(flows) + 1, figsize=(3.3 * (len(flows) + 1), 3.4), dpi=120, squeeze=False
        )
        noise = self.eval_source[:300]
        for ax, (k, flow) in zip(axes[0], flows):
            path = simulate(flow, noise, 50).cpu()
            ax.plot(path[:, :, 0], path[:, :, 1], lw=0.3, alpha=0.5, color="tab:blue")
            ax.set(title=f"{k}-rectified flow", xticks=[], yticks=[], aspect="equal")
        ax = axes[0][-1]
        ax.scatter(self.test[:2000, 0], self.test[:2000, 1], s=1, alpha=0.3, color="gray", label="data")
        ax.scatter(samples[:2000, 0], samples[:2000, 1], s=1, alpha=0.5, color="tab:red", label="1 step")
        ax.set(title=f"distilled {self.cfg.distill_from}-RF, one step", xticks=[], yticks=[], aspect="equal")
        ax.legend(loc="lower right", fontsize=7, markerscale=5)
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out


RECIPE = Recipe(
    name="rectified-flow-2d",
    description="1-, 2-, 3-rectified flow and one-step distillation on 2D densities, with the paper's diagnostics",
    config=RectifiedFlow2DConfig,
    build=RectifiedFlow2DTask,
    presets={
        "smoke": {
            "steps": 40,
            "reflow_steps": 30,
            "distill_steps": 30,
            "n_train": 2048,
            "n_pairs": 1024,
            "batch_size": 256,
            "hidden": 32,
            "depth": 2,
            "warmup": 5,
            "n_eval": 500,
            "sim_steps": 10,
            "log_every": 10,
            "ckpt_every": 20,
        },
        "paper": {
            "steps": 20_000,
            "reflow_steps": 20_000,
            "distill_steps": 20_000,
            "hidden": 512,
            "depth": 5,
            "n_pairs": 500_000,
            "batch_size": 4096,
        },
    },
)
