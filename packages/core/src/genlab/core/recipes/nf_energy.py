"""``nf-energy``: variational inference with planar or radial flows on Rezende & Mohamed's U1-U4
(Rezende & Mohamed 2015, "Variational Inference with Normalizing Flows", section 6.1, figure 3).

A flow q_K of K layers over N(0, I) is fitted to p(z) = exp(-U(z)) / Z by the reverse KL
E_q[log q(z) - log p~(z)] = KL(q || p) - log Z (eq. 15, the free energy).  One run trains a family of
flows, one per K in ``layers`` (the paper's K = 2, 8, 32); their losses are summed, and as their
parameters are disjoint and AdamW is per-parameter, the summed step is exactly one independent step
per flow (gradient clipping, which would couple them through the joint norm, is off by default).
As in the paper, training anneals the target: E_q[log q - beta_t log p~] with beta_t = min(1, 0.01 +
t / anneal), so that q spreads over every mode before the full energy can pull it into one.
The evaluation computes log Z by quadrature on a fine grid so that the reported KL(q || p) is a true
KL, zero only when q = p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.lookup import lookup
from genlab.core.nflows import Flow, Planar, Radial, StandardNormal, log_target
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig

LAYERS = {"planar": Planar, "radial": Radial}


@dataclass
class NFEnergyConfig(TrainConfig):
    # the target p(z) ~ exp(-U(z)) of Rezende & Mohamed figure 3
    energy: Literal["U1", "U2", "U3", "U4"] = "U1"
    flow: Literal["planar", "radial"] = "planar"  # the layer of every flow: planar or radial
    layers: str = "2,8,32"  # the flow lengths K trained side by side
    anneal: int = 2000  # steps over which the inverse temperature beta rises from 0.01 to 1
    grid: int = 2001  # quadrature points per axis for log Z on [-lim, lim]^2
    lim: float = 6.0  # half-width of the square [-lim, lim]^2 on which log Z is integrated
    n_eval: int = 100_000
    steps: int = 5000
    batch_size: int = 256  # samples from q per step
    lr: float = 1e-2
    warmup: int = 200
    grad_clip: float = 0.0
    ema_decay: float = 0.99
    log_every: int = 200
    ckpt_every: int = 5000


def parse_layers(text: str) -> list[int]:
    """'2,8,32' -> [2, 8, 32]; every K must be a positive integer."""
    try:
        ks = [int(k) for k in text.split(",")]
    except ValueError:
        raise ValueError(f"layers must be comma-separated integers such as '2,8,32', got {text!r}") from None
    if not ks or min(ks) < 1:
        raise ValueError(f"every flow length in layers must be >= 1, got {text!r}")
    return ks


def log_partition(log_p, lim: float, n: int) -> float:
    """log Z = log of the integral of exp(log_p) over [-lim, lim]^2 by the trapezoid rule on an n x n grid."""
    axis = torch.linspace(-lim, lim, n, dtype=torch.float64)
    step = 2 * lim / (n - 1)
    edge = torch.ones(n, dtype=torch.float64)
    edge[[0, -1]] = 0.5  # trapezoid weights
    log_w = (edge[:, None] * edge[None, :]).log().flatten()
    values = torch.cat([log_p(chunk) for chunk in torch.cartesian_prod(axis, axis).split(1 << 18)])
    return (torch.logsumexp(values + log_w, 0) + 2 * math.log(step)).item()


class FlowFamily(nn.Module):
    """One flow of each length K over a standard-normal base (``flows[str(K)]``), and the annealing
    clock: ``updates`` counts training calls; a float buffer, so it is checkpointed and averaged."""

    def __init__(self, layer: type[nn.Module], ks: list[int], dim: int = 2):
        super().__init__()
        self.ks = ks
        self.flows = nn.ModuleDict(
            {str(k): Flow([layer(dim) for _ in range(k)], StandardNormal(dim)) for k in ks}
        )
        self.register_buffer("updates", torch.tensor(0.0))

    def forward(self, log_p, n: int, anneal: int = 0) -> dict[int, torch.Tensor]:
        """The annealed free energy E_q[log q - beta log p~] of every flow over n samples, by K."""
        beta = min(1.0, 0.01 + self.updates.item() / anneal) if anneal else 1.0
        if self.training:
            self.updates += 1
        return {k: self.flows[str(k)].reverse_kl(lambda z: beta * log_p(z), n) for k in self.ks}


class NFEnergyTask:
    n_show = 20_000

    def __init__(self, cfg: NFEnergyConfig):
        self.cfg = cfg
        self.log_p = log_target(cfg.energy)
        self.model = FlowFamily(lookup("flow layer", cfg.flow, LAYERS), parse_layers(cfg.layers))
        # reverse KL needs no data: a batch only says how many samples of q to draw
        self.train_set = TensorDataset(torch.zeros(cfg.batch_size, 0))
        self._log_z: float | None = None

    @property
    def log_z(self) -> float:
        if self._log_z is None:
            self._log_z = log_partition(self.log_p, self.cfg.lim, self.cfg.grid)
        return self._log_z

    def loss(self, model, batch):
        losses = model(self.log_p, batch.shape[0], self.cfg.anneal)
        return sum(losses.values()), {f"loss_K{k}": v.item() for k, v in losses.items()}

    @torch.no_grad()
    def evaluate(self, model):
        out = {"log_z": self.log_z}
        for k in model.ks:
            z, log_q = model.flows[str(k)].rsample_and_log_prob(self.cfg.n_eval)
            gap = (log_q - self.log_p(z)).double()
            out[f"kl_K{k}"] = gap.mean().item() + self.log_z
            out[f"kl_K{k}_stderr"] = (gap.std() / math.sqrt(len(gap))).item()
        return out

    @torch.no_grad()
    def sample(self, model, n):
        torch.manual_seed(self.cfg.seed + 1)
        return torch.stack([model.flows[str(k)].sample(n) for k in model.ks]).cpu()

    def save_samples(self, samples, out: Path) -> Path:
        """exp(-U) on the paper's [-4, 4]^2 beside a histogram of each q_K's samples."""
        ks = parse_layers(self.cfg.layers)
        fig, axes = plt.subplots(1, 1 + len(ks), figsize=(3 * (1 + len(ks)), 3.2), dpi=120, squeeze=False)
        axis = torch.linspace(-4, 4, 300, dtype=torch.float64)
        grid = torch.cartesian_prod(axis, axis)
        density = self.log_p(grid).exp().view(300, 300).T.numpy()
        axes[0, 0].imshow(density, origin="lower", extent=(-4, 4, -4, 4), cmap="magma")
        axes[0, 0].set_title(f"exp(-{self.cfg.energy})")
        for ax, k, pts in zip(axes[0, 1:], ks, samples.numpy()):
            ax.hist2d(pts[:, 0], pts[:, 1], bins=150, range=[[-4, 4], [-4, 4]], cmap="magma")
            ax.set_title(f"{self.cfg.flow}, K = {k}")
        for ax in axes[0]:
            ax.set(xticks=[], yticks=[], aspect="equal")
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out


RECIPE = Recipe(
    name="nf-energy",
    description="Planar / radial flows fitted by reverse KL to Rezende's energies U1-U4, K = 2, 8, 32",
    config=NFEnergyConfig,
    build=NFEnergyTask,
    presets={
        "smoke": {
            "steps": 40,
            "layers": "2,4",
            "anneal": 20,
            "batch_size": 64,
            "warmup": 5,
            "grid": 301,
            "n_eval": 2000,
            "log_every": 10,
            "ckpt_every": 20,
        },
        "paper": {"steps": 100_000, "anneal": 10_000, "batch_size": 1024, "lr": 3e-3, "n_eval": 1_000_000},
    },
)
