"""``tokenizer-digits``: a small convolutional autoencoder on 8x8 digits with a chosen quantizer.

The bottleneck of a VQ-VAE (van den Oord et al., 2017) on a 4x4 latent grid, quantized by one of
genlab's tokenizers at the same vocabulary size K = 2^bits per token:

- ``vq``: EMA codebook of K codes (VQ-VAE, App. A.1), k-means init, dead-code revival;
- ``fsq``: finite scalar quantization with levels whose product is K (Mentzer et al., 2024);
- ``lfq``: lookup-free quantization with bits sign channels and MAGVIT-v2's entropy penalty
  (Yu et al., 2024); ``entropy_weight = 0`` removes it, which is where its utilisation collapses.
  The penalty's p(c_i = +1 | z) = sigmoid(4 tau z_i) saturates for O(1) latents at
  vector-quantize-pytorch's tau = 100 and then has no gradient, so the default here is tau = 1;
- ``rvq``: ``rvq_depth`` residual codebooks of K codes each (SoundStream, Zeghidour et al., 2021);
- ``msvq``: VAR's multi-scale residual quantizer on scales 1, 2, 3, 4 (Tian et al., 2024).

1x1 convolutions project to and from the quantizer's channels. Evaluated by reconstruction PSNR
on held-out digits and by codebook perplexity exp(H(index histogram)) and usage (share of the K
codes that occur) on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.data.digits import load_digits
from genlab.core.lookup import lookup
from genlab.core.plotting import image_grid
from genlab.core.recipe import Recipe
from genlab.core.tokenizers import FSQ, LFQ, MultiScaleVQ, ResidualVQ, VectorQuantizer
from genlab.core.trainer import TrainConfig

MSVQ_SCALES = (1, 2, 3, 4)  # token maps of VAR's quantizer on the 4x4 latent


@dataclass
class TokenizerConfig(TrainConfig):
    # the bottleneck: VQ, FSQ, LFQ, residual VQ or VAR multi-scale VQ
    quantizer: Literal["vq", "fsq", "lfq", "rvq", "msvq"] = "vq"
    bits: int = 8  # vocabulary K = 2^bits codes per token, the same for every quantizer
    hidden: int = 32  # channels of the encoder's and decoder's convolutions
    codebook_dim: int = 8  # code dimension of vq, rvq and msvq (fsq and lfq fix theirs from K)
    entropy_weight: float = 0.1  # LFQ's entropy penalty; 0 removes it
    # LFQ tau, p(c | z) ∝ exp(-tau ||z - c||^2); at 100 the penalty saturates here
    inv_temperature: float = 1.0
    rvq_depth: int = 2  # residual codebooks of rvq (the other quantizers ignore it)
    steps: int = 2000
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 100
    ema_decay: float = 0.99
    log_every: int = 100
    ckpt_every: int = 1000


def fsq_levels(bits: int) -> tuple[int, ...]:
    """Levels whose product is exactly 2^bits: the bits split as evenly as possible into channels of
    at most 3 bits (8 levels), e.g. 8 bits -> (8, 8, 4)."""
    channels = math.ceil(bits / 3)
    return tuple(2 ** (bits // channels + (i < bits % channels)) for i in range(channels))


def make_quantizer(cfg: TokenizerConfig) -> tuple[nn.Module, int]:
    """The quantizer and its channel count."""
    K = 2**cfg.bits
    builders = {
        "vq": lambda: (VectorQuantizer(cfg.codebook_dim, K), cfg.codebook_dim),
        "fsq": lambda: (FSQ(fsq_levels(cfg.bits)), len(fsq_levels(cfg.bits))),
        "lfq": lambda: (
            LFQ(cfg.bits, entropy_weight=cfg.entropy_weight, inv_temperature=cfg.inv_temperature),
            cfg.bits,
        ),
        "rvq": lambda: (ResidualVQ(cfg.codebook_dim, K, cfg.rvq_depth), cfg.codebook_dim),
        "msvq": lambda: (MultiScaleVQ(cfg.codebook_dim, K, MSVQ_SCALES), cfg.codebook_dim),
    }
    return lookup("quantizer", cfg.quantizer, builders)()


class Autoencoder(nn.Module):
    """8x8 image -> 4x4 latent -> quantizer -> 8x8 image; ``model(x) -> (recon, indices, aux)``."""

    def __init__(self, quantizer: nn.Module, channels: int, hidden: int):
        super().__init__()
        self.quantizer = quantizer
        self.channels_last = not isinstance(quantizer, MultiScaleVQ)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, hidden, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden, channels, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.SiLU(),
            nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden, 1, 3, padding=1),
        )

    def quantize(self, z: torch.Tensor):
        if not self.channels_last:
            return self.quantizer(z)
        q, indices, aux = self.quantizer(z.permute(0, 2, 3, 1))
        return q.permute(0, 3, 1, 2), indices, aux

    def forward(self, x: torch.Tensor):
        if x.ndim != 4 or x.shape[1:] != (1, 8, 8):
            raise ValueError(f"expected digits of shape [B, 1, 8, 8], got {tuple(x.shape)}")
        q, indices, aux = self.quantize(self.encoder(x))
        return self.decoder(q), indices, aux


def codebook_columns(indices, codebooks: int) -> torch.Tensor:
    """Token ids as [N, codebooks], one column per codebook (MultiScaleVQ's scales share one)."""
    if isinstance(indices, (list, tuple)):
        return torch.cat([i.flatten() for i in indices])[:, None]
    return indices.reshape(-1, codebooks)


def codebook_stats(columns: torch.Tensor, K: int) -> dict[str, float]:
    """Perplexity exp(H) of each codebook's histogram and the share of its K codes used at least
    once, averaged over codebooks (only residual VQ has more than one)."""
    p = torch.stack([torch.bincount(c, minlength=K) for c in columns.T]).double() / len(columns)
    entropy = -torch.xlogy(p, p).sum(-1)
    return {"perplexity": entropy.exp().mean().item(), "usage": (p > 0).double().mean().item()}


class TokenizerTask:
    n_show = 40  # digits in the figure: originals above reconstructions

    def __init__(self, cfg: TokenizerConfig):
        self.cfg = cfg
        self.train_set = TensorDataset(load_digits("train").images)
        test = load_digits("test")
        self.test, self.test_labels = test.images, test.labels
        quantizer, channels = make_quantizer(cfg)
        self.model = Autoencoder(quantizer, channels, cfg.hidden)

    def loss(self, model, x):
        recon, _, aux = model(x)
        mse = F.mse_loss(recon, x)
        return mse + sum(aux.values()), {"mse": mse.item(), **{k: v.item() for k, v in aux.items()}}

    @torch.no_grad()
    def reconstruct(self, model, x):
        device = next(model.parameters()).device
        recon, indices, _ = model(x.to(device))
        codebooks = self.cfg.rvq_depth if self.cfg.quantizer == "rvq" else 1
        return recon.clamp(0, 1).cpu(), codebook_columns(indices, codebooks).cpu()

    @torch.no_grad()
    def evaluate(self, model):
        recon, indices = self.reconstruct(model, self.test)
        mse = F.mse_loss(recon, self.test).item()
        tokens = indices.numel() // len(self.test)
        return {
            "psnr": 10 * math.log10(1 / mse),
            **codebook_stats(indices, 2**self.cfg.bits),
            "vocab_size": float(2**self.cfg.bits),
            "tokens_per_image": float(tokens),
            "bits_per_image": float(tokens * self.cfg.bits),
        }

    def sample(self, model, n):
        """Reconstructions of the first n // 2 test digits, under their originals."""
        x = self.test[: n // 2]
        return torch.cat([x, self.reconstruct(model, x)[0]])

    def save_samples(self, samples, out: Path) -> Path:
        title = (
            f"{self.cfg.quantizer}, K = {2**self.cfg.bits}: test digits (top) and reconstructions (bottom)"
        )
        classes = [str(int(c)) for c in self.test_labels[: len(samples) // 2]]
        return image_grid(
            samples, out, nrow=len(samples) // 2, title=title, columns=classes, columns_name="class"
        )


RECIPE = Recipe(
    name="tokenizer-digits",
    description="Conv autoencoder on 8x8 digits with a VQ / FSQ / LFQ / RVQ / multi-scale VQ bottleneck",
    config=TokenizerConfig,
    build=TokenizerTask,
    presets={
        "smoke": {"steps": 10, "batch_size": 64, "hidden": 16, "warmup": 2, "log_every": 5, "ckpt_every": 10},
        # MAGVIT-v2 / VAR tokenizers are far larger; on digits a wider net and a longer run suffice
        "paper": {"steps": 20_000, "hidden": 128, "batch_size": 256},
    },
)
