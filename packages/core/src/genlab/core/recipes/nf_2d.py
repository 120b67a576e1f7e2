"""``nf-2d``: density estimation on a 2D density by maximum likelihood with a normalizing flow.

Four families, chosen by ``flow``:
- ``maf``: masked autoregressive flow (Papamakarios et al. 2017), MADE layers with the order reversed
  between them;
- ``nsf``: the same with rational-quadratic splines instead of affine maps (Durkan et al. 2019; 8 bins
  on [-5, 5], zuko's NSF defaults);
- ``coupling``: Glow steps for vectors (Kingma & Dhariwal 2018): ActNorm, LU 1x1 "convolution" (a
  learned 2x2 linear map) and an affine coupling (Dinh et al. 2017);
- ``iresnet``: invertible residual blocks (Behrmann et al. 2019) with ActNorm between them; in 2D
  the log-det is exact (two vector-Jacobian products) rather than a power series.

Training minimises the forward KL, -E_data log q(x) (``Flow.forward_kl``).  The test NLL is an
upper bound on the density's entropy H(p): NLL - H(p) = KL(p || q) >= 0, so the evaluation reports
both and their gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import TensorDataset

from genlab.core.data import heldout_generator
from genlab.core.data.toy2d import get_density
from genlab.core.lookup import lookup
from genlab.core.nflows import (
    MAF,
    NSF,
    ActNorm,
    Flow,
    Invertible1x1Conv,
    Permute,
    ResidualBlock,
    StandardNormal,
    vector_coupling,
)
from genlab.core.plotting import scatter_2d
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig

DensityName = Literal[
    "moons", "8gaussians", "checkerboard", "rings", "swissroll", "ring8", "grid25", "gaussian"
]


def autoregressive(layer):
    """Layers of an autoregressive flow (MAF or NSF) with the order reversed between them."""

    def build(layers: int, hidden: int, depth: int) -> list:
        out = []
        for i in range(layers):
            out += [Permute.reverse(2)] if i else []
            out.append(layer(2, hidden, depth))
        return out

    return build


def coupling_layers(layers: int, hidden: int, depth: int) -> list:
    out = []
    for i in range(layers):
        out += [ActNorm(2), Invertible1x1Conv(2, lu=True), vector_coupling(2, hidden, depth, parity=i % 2)]
    return out


def iresnet_layers(layers: int, hidden: int, depth: int) -> list:
    out = []
    for _ in range(layers):
        out += [ActNorm(2), ResidualBlock(2, hidden, depth, exact=True)]
    return out


FLOWS = {
    "maf": autoregressive(MAF),
    "nsf": autoregressive(NSF),
    "coupling": coupling_layers,
    "iresnet": iresnet_layers,
}


def refresh_norms(model) -> None:
    """Converge the spectral norms of i-ResNet blocks, whose power-iteration state an EMA averages."""
    for block in model.modules():
        if isinstance(block, ResidualBlock):
            block.refresh_norms()


def build_flow(kind: str, layers: int, hidden: int, depth: int) -> Flow:
    """A 2D flow of ``layers`` steps of family ``kind`` (maf | nsf | coupling | iresnet) over N(0, I)."""
    return Flow(lookup("flow", kind, FLOWS)(layers, hidden, depth), StandardNormal(2))


@dataclass
class NF2DConfig(TrainConfig):
    density: DensityName = "moons"
    # the flow family: MAF, neural spline, Glow-style coupling or i-ResNet
    flow: Literal["maf", "nsf", "coupling", "iresnet"] = "maf"
    layers: int = 8  # flow steps stacked (one MADE, spline, Glow step or residual block each)
    hidden: int = 64
    depth: int = 2
    n_train: int = 100_000
    n_eval: int = 20_000
    steps: int = 5000
    batch_size: int = 512
    lr: float = 2e-3
    warmup: int = 200
    ema_decay: float = 0.999
    log_every: int = 100
    ckpt_every: int = 2500


class NF2DTask:
    n_show = 20_000

    def __init__(self, cfg: NF2DConfig):
        self.cfg = cfg
        self.density = get_density(cfg.density)
        self.train_set = TensorDataset(
            self.density.sample(cfg.n_train, torch.Generator().manual_seed(cfg.seed))
        )
        self.test = self.density.sample(cfg.n_eval, heldout_generator(cfg.seed))
        self.model = build_flow(cfg.flow, cfg.layers, cfg.hidden, cfg.depth)

    def loss(self, model, x):
        return model.forward_kl(x), {}

    def evaluate(self, model):
        refresh_norms(model)
        device = next(model.parameters()).device
        with torch.no_grad():
            log_q = torch.cat([model.log_prob(x.to(device)).cpu() for x in self.test.split(4096)])
        nll = -log_q.double().mean().item()
        entropy = self.density.entropy(self.cfg.n_eval, torch.Generator().manual_seed(self.cfg.seed + 20_000))
        return {"test_nll": nll, "entropy": entropy, "kl_gap": nll - entropy}

    @torch.no_grad()
    def sample(self, model, n):
        refresh_norms(model)
        torch.manual_seed(self.cfg.seed + 1)
        return model.sample(n).cpu()

    def save_samples(self, samples, out: Path) -> Path:
        return scatter_2d(
            {f"target: {self.cfg.density}": self.test, f"{self.cfg.flow} samples": samples}, out
        )


RECIPE = Recipe(
    name="nf-2d",
    description="Maximum-likelihood MAF, spline (NSF), coupling (Glow-style) or i-ResNet flow on a 2D density",
    config=NF2DConfig,
    build=NF2DTask,
    presets={
        "smoke": {
            "steps": 30,
            "layers": 2,
            "hidden": 16,
            "n_train": 2048,
            "n_eval": 1000,
            "batch_size": 256,
            "warmup": 5,
            "log_every": 10,
            "ckpt_every": 15,
        },
        "paper": {"steps": 50_000, "layers": 16, "hidden": 256, "batch_size": 1024, "n_train": 1_000_000},
    },
)
