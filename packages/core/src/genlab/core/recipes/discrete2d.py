"""``discrete-2d``: discrete flow matching on a checkerboard quantised to a 128 x 128 grid.

The 2D example of Discrete Flow Matching (Gat et al., 2024; Lipman et al., 2024, "Flow Matching
Guide and Code", Sec. 7): a point is two tokens, its grid column and row, each in {0..127}. The
mixture path corrupts each coordinate independently (mask or uniform source, polynomial
scheduler kappa(t) = 1 - (1 - t)^n), an MLP predicts p_theta(x0^l | x_t) for both tokens, the
generalized-KL loss trains it, and CTMC Euler steps sample it.

The discretised checkerboard is uniform on half of the 128^2 cells, so its entropy is exactly
log2(128^2 / 2) = 13 bits per point, 6.5 bits per token: the ELBO in bits per token is judged
against that floor, and samples by the share that lands on the board's black cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.data import heldout_generator
from genlab.core.data.toy2d import get_density
from genlab.core.discrete import MixturePath, generalized_kl_loss, nelbo, sample_ctmc_euler
from genlab.core.grids import time_grid
from genlab.core.nn.embeddings import SinusoidalEmbedding
from genlab.core.plotting import scatter_2d
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig

BOARD = 4.0  # the checkerboard covers [-4, 4]^2 in 4 x 4 cells


@dataclass
class Discrete2DConfig(TrainConfig):
    grid: int = 128  # grid cells per axis: the vocabulary of each of the two tokens (a multiple of 4)
    # what a corrupted token becomes at t = 1: the mask token, or uniform over the grid
    source: Literal["mask", "uniform"] = "mask"
    schedule_power: float = 2.0  # n of kappa(t) = 1 - (1 - t)^n
    hidden: int = 256
    depth: int = 3
    n_train: int = 100_000
    n_eval: int = 10_000
    eval_samples: int = 4  # Monte-Carlo draws of t per point for the ELBO
    sample_steps: int = 64
    steps: int = 3000
    batch_size: int = 1024
    lr: float = 1e-3
    warmup: int = 100
    ema_decay: float = 0.999
    log_every: int = 100
    ckpt_every: int = 1000


class TokenMLP(nn.Module):
    """``model(x [B, L], t [B]) -> logits [B, L, vocab]``: token and time embeddings, concatenated, then
    an MLP (the discrete 2D model of Gat et al.'s example, for a fixed small L)."""

    def __init__(self, num_states: int, vocab_size: int, length: int, hidden: int, depth: int):
        super().__init__()
        self.length, self.vocab_size = length, vocab_size
        self.tok = nn.Embedding(num_states, hidden)
        self.time = SinusoidalEmbedding(hidden)
        layers, width = [], hidden * (length + 1)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(hidden, length * vocab_size))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.length:
            raise ValueError(f"expected tokens of shape [B, {self.length}], got {tuple(x.shape)}")
        if t.shape != x.shape[:1]:
            raise ValueError(f"expected one time per point, shape [{x.shape[0]}], got {tuple(t.shape)}")
        h = torch.cat([self.tok(x).flatten(1), self.time(t)], dim=-1)
        return self.net(h).view(-1, self.length, self.vocab_size)


def to_grid(x: torch.Tensor, grid: int) -> torch.Tensor:
    """Continuous points in [-4, 4)^2 to integer cells in {0..grid-1}^2."""
    return ((x + BOARD) / (2 * BOARD) * grid).floor().long().clamp(0, grid - 1)


def from_grid(cells: torch.Tensor, grid: int) -> torch.Tensor:
    """Cell centres of integer cells."""
    return (cells.float() + 0.5) / grid * (2 * BOARD) - BOARD


class Discrete2DTask:
    n_show = 20_000

    def __init__(self, cfg: Discrete2DConfig):
        if cfg.grid % 4:
            raise ValueError(f"grid must be a multiple of 4 so board cells are whole, got {cfg.grid}")
        self.cfg = cfg
        board = get_density("checkerboard")
        self.train_set = TensorDataset(
            to_grid(board.sample(cfg.n_train, torch.Generator().manual_seed(cfg.seed)), cfg.grid)
        )
        self.test = to_grid(board.sample(cfg.n_eval, heldout_generator(cfg.seed)), cfg.grid)
        self.path = MixturePath(cfg.grid, cfg.source, "polynomial", n=cfg.schedule_power)
        self.model = TokenMLP(self.path.num_states, cfg.grid, 2, cfg.hidden, cfg.depth)

    def loss(self, model, x0):
        return generalized_kl_loss(model, self.path, x0).sum(-1).mean(), {}

    @torch.no_grad()
    def sample(self, model, n):
        device = next(model.parameters()).device
        gen = torch.Generator(device).manual_seed(self.cfg.seed + 1)
        x = self.path.prior_sample((n, 2), device, gen)
        return sample_ctmc_euler(
            model, self.path, x, time_grid(self.cfg.sample_steps, (n,), device=device), gen
        ).cpu()

    def on_board(self, cells: torch.Tensor) -> torch.Tensor:
        """Whether each cell lies in a black square of the board (board squares are grid/4 cells wide)."""
        square = cells // (self.cfg.grid // 4)
        return square.sum(-1) % 2 == 0

    @torch.no_grad()
    def evaluate(self, model):
        device = next(model.parameters()).device
        gen = torch.Generator(device).manual_seed(self.cfg.seed + 2)
        bits = nelbo(model, self.path, self.test.to(device), self.cfg.eval_samples, gen).cpu() / (
            2 * math.log(2)
        )
        samples = self.sample(model, self.cfg.n_eval)
        squares = samples // (self.cfg.grid // 4)
        counts = torch.bincount(squares[:, 0] * 4 + squares[:, 1], minlength=16).double() / len(samples)
        truth = self.on_board(torch.cartesian_prod(torch.arange(4), torch.arange(4)) * (self.cfg.grid // 4))
        return {
            "bits_per_token": bits.mean().item(),
            "bits_per_token_stderr": (bits.std() / math.sqrt(len(bits))).item(),
            "entropy_bits_per_token": math.log2(self.cfg.grid**2 / 2) / 2,
            "on_board": self.on_board(samples).double().mean().item(),
            "square_tv": 0.5 * (counts - truth.double() / truth.sum()).abs().sum().item(),
            "nfe": float(self.cfg.sample_steps),
        }

    def save_samples(self, samples, out: Path) -> Path:
        return scatter_2d(
            {
                f"data ({self.cfg.grid}x{self.cfg.grid} grid)": from_grid(self.test, self.cfg.grid),
                f"discrete FM samples ({self.cfg.source} source)": from_grid(samples, self.cfg.grid),
            },
            out,
        )


RECIPE = Recipe(
    name="discrete-2d",
    description="Discrete flow matching (mixture path, CTMC Euler) on a 128x128-grid checkerboard",
    config=Discrete2DConfig,
    build=Discrete2DTask,
    presets={
        "smoke": {
            "steps": 20,
            "n_train": 2048,
            "batch_size": 256,
            "hidden": 32,
            "depth": 2,
            "warmup": 5,
            "n_eval": 500,
            "eval_samples": 1,
            "sample_steps": 8,
            "log_every": 10,
            "ckpt_every": 20,
        },
        # Gat et al.'s notebook: 30k iterations, 64 NFE; a wider MLP and bigger batches
        "paper": {"steps": 30_000, "batch_size": 4096, "hidden": 512, "depth": 4, "n_train": 1_000_000},
    },
)
