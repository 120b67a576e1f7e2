"""``gan-2d``: a GAN on the ring-of-8 and 5x5-grid Gaussian mixtures, the standard mode-collapse test
(Metz et al. 2017, Unrolled GANs; Srivastava et al. 2017, VEEGAN), with the objective by flag:
non-saturating (Goodfellow et al. 2014), hinge (Lim & Ye 2017) or relativistic pairing (RpGAN), and
gamma > 0 adds R1 and R2 (Mescheder et al. 2018; R3GAN, Huang et al. 2024, eq. 2-4).

Two players, one optimiser step.  ``GAN.forward(real)`` returns L_D + L_G where
- L_D sees the fakes detached, so its gradient reaches D only;
- L_G scores the fakes with D's parameters detached (``torch.func.functional_call``), so its
  gradient reaches G only.
The parameter sets are disjoint and AdamW is per-parameter, so one step on the sum applies -grad_D L_D
to D and -grad_G L_G to G from the same point: simultaneous gradient descent, the scheme whose local
convergence Mescheder et al. (2018) analyse, and which R1 makes locally convergent.  It is not an
alternating step (there G would see the already-updated D); the two differ by O(lr^2) per step.
Gradient clipping is off by default, since clipping the joint norm would couple the players.

What makes the 5x5 grid work (measured, docs/benchmarks.md): Adam without momentum (beta1 = 0,
beta2 = 0.99, R3GAN's setting; with beta1 = 0.9 no mode is covered), data standardised to unit
scale (the players see x / scale, samples are mapped back), and an EMA of the generator over a run
long enough for the EMA to average the players' rotation around the equilibrium (20k steps).

Evaluation (VEEGAN's protocol): a sample is of high quality when it lies within 3 standard deviations
of its nearest mode; a mode is covered when at least ``min_per_mode`` high-quality samples are nearest
to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.data import TensorDataset

from genlab.core.data.toy2d import get_density
from genlab.core.gan import discriminator_loss, generator_loss, r1_penalty, r2_penalty
from genlab.core.plotting import scatter_2d
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.LeakyReLU(0.2))]
    return nn.Sequential(*layers[:-1])


class GAN(nn.Module):
    """An MLP generator z [B, latent] -> [B, 2] and an MLP discriminator [B, 2] -> logits [B]."""

    def __init__(
        self,
        latent: int = 16,
        hidden: int = 128,
        depth: int = 3,
        loss: str = "rpgan",
        gamma: float = 0.0,
        scale: float = 1.0,
    ):
        super().__init__()
        self.latent, self.loss, self.gamma = latent, loss, gamma
        self.register_buffer("scale", torch.tensor(float(scale)))  # data units per network unit
        self.generator = _mlp([latent] + [hidden] * depth + [2])
        self.discriminator = _mlp([2] + [hidden] * depth + [1])

    def discriminate(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """D(x) as logits [B]; ``frozen`` detaches D's parameters, so gradients reach only x."""
        if not frozen:
            return self.discriminator(x).squeeze(-1)
        params = {k: v.detach() for k, v in self.discriminator.named_parameters()}
        return functional_call(self.discriminator, params, (x,)).squeeze(-1)

    def generate(self, n: int) -> torch.Tensor:
        """n samples in data units."""
        p = next(self.parameters())
        return self.scale * self.generator(torch.randn(n, self.latent, device=p.device, dtype=p.dtype))

    def forward(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """L_D + L_G for one simultaneous step (see the module docstring), and both terms as logs;
        both players work in network units, x / scale."""
        real = real / self.scale
        fake = self.generate(real.shape[0]) / self.scale
        real_in = real.detach().requires_grad_(self.gamma > 0)
        fake_in = fake.detach().requires_grad_(self.gamma > 0)
        real_logits, fake_logits = self.discriminate(real_in), self.discriminate(fake_in)
        if not (torch.isfinite(real_logits).all() and torch.isfinite(fake_logits).all()):
            # diverged weights: a NaN loss makes the trainer stop, naming the step and the last checkpoint
            return real_logits.sum() * float("nan"), {}
        d_loss = discriminator_loss(self.loss, real_logits, fake_logits)
        logs = {"d_loss": d_loss.item()}
        if self.gamma > 0:
            r1 = r1_penalty(real_in, real_logits, self.gamma)
            r2 = r2_penalty(fake_in, fake_logits, self.gamma)
            d_loss = d_loss + r1 + r2
            logs.update(r1=r1.item(), r2=r2.item())
        g_loss = generator_loss(self.loss, self.discriminate(fake, frozen=True), real_logits.detach())
        logs["g_loss"] = g_loss.item()
        return d_loss + g_loss, logs


def mode_coverage(
    samples: torch.Tensor, means: torch.Tensor, std: float, min_per_mode: int
) -> dict[str, float]:
    """Modes covered and the fraction of high-quality samples (within 3 std of the nearest mode)."""
    dist, nearest = torch.cdist(samples.double(), means.double()).min(1)
    good = dist <= 3 * std
    counts = torch.bincount(nearest[good], minlength=len(means))
    return {
        "modes_covered": float((counts >= min_per_mode).sum()),
        "n_modes": float(len(means)),
        "high_quality_fraction": good.double().mean().item(),
    }


@dataclass
class GAN2DConfig(TrainConfig):
    density: Literal["ring8", "grid25"] = "ring8"
    # the players' objective: non-saturating, hinge or relativistic pairing
    loss: Literal["nonsaturating", "hinge", "rpgan"] = "rpgan"
    gamma: float = 0.1  # weight of R1 and R2; 0 turns both off
    latent: int = 16  # dimension of the generator's Gaussian input z
    hidden: int = 128
    depth: int = 3
    n_train: int = 100_000
    n_eval: int = 2500
    min_per_mode: int = 20  # high-quality samples (within 3 std) a mode needs to count as covered
    standardise: bool = True  # train on x / std(x) (one scalar)
    steps: int = 20_000
    batch_size: int = 256
    lr: float = 1e-3
    warmup: int = 100
    beta1: float = 0.0
    beta2: float = 0.99
    grad_clip: float = 0.0
    ema_decay: float = 0.999
    log_every: int = 100
    ckpt_every: int = 2000

    def validate(self) -> None:
        super().validate()
        for name in ("latent", "hidden", "depth", "n_train", "n_eval", "min_per_mode"):
            self.require(name, 1)
        self.require("gamma", 0)


class GAN2DTask:
    n_show = 2500

    def __init__(self, cfg: GAN2DConfig):
        self.cfg = cfg
        self.density = get_density(cfg.density)
        data = self.density.sample(cfg.n_train, torch.Generator().manual_seed(cfg.seed))
        self.train_set = TensorDataset(data)
        scale = data.std().item() if cfg.standardise else 1.0
        self.model = GAN(cfg.latent, cfg.hidden, cfg.depth, cfg.loss, cfg.gamma, scale)

    def loss(self, model, real):
        return model(real)

    @torch.no_grad()
    def sample(self, model, n):
        torch.manual_seed(self.cfg.seed + 1)
        return model.generate(n).cpu()

    def evaluate(self, model):
        mixture = self.density.mixture
        return mode_coverage(
            self.sample(model, self.cfg.n_eval),
            mixture.means,
            mixture.stds.max().item(),
            self.cfg.min_per_mode,
        )

    def save_samples(self, samples, out: Path) -> Path:
        real = self.density.sample(len(samples), torch.Generator().manual_seed(self.cfg.seed + 2))
        return scatter_2d(
            {f"target: {self.cfg.density}": real, f"{self.cfg.loss} samples": samples}, out, lim=6.0
        )


RECIPE = Recipe(
    name="gan-2d",
    description="GAN on ring8 / grid25 mixtures: non-saturating, hinge or RpGAN (+ R1 + R2) by flag",
    config=GAN2DConfig,
    build=GAN2DTask,
    presets={
        "smoke": {
            "steps": 30,
            "hidden": 32,
            "depth": 2,
            "n_train": 2048,
            "n_eval": 500,
            "batch_size": 128,
            "warmup": 5,
            "log_every": 10,
            "ckpt_every": 15,
        },
        "paper": {"steps": 50_000, "hidden": 512, "depth": 4, "batch_size": 512, "n_train": 1_000_000},
    },
)
