"""Diffuser's networks (Janner et al., ICML 2022, Sec. 3 and App. C): a temporal U-Net over trajectories and
the value function built on its encoder.

A trajectory is an array [B, H, D] of H transitions of D channels (actions first, then observations). The
U-Net convolves along the horizon only, so that each predicted step depends on its temporal neighbourhood
(the paper's "temporal locality") and any horizon divisible by 2^(levels - 1) can be planned ("variable-length
plans"). Each residual block is two Conv1d(k=5) -> GroupNorm(8) -> Mish, the embedded noise level added after
the first; stride-2 convolutions go down, transposed convolutions go up, skip connections join the halves.
Interface: ``model(x_t [B, H, D], t [B]) -> x0 prediction [B, H, D]``, t in [0, 1] the noise level.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.nn.embeddings import SinusoidalEmbedding
from genlab.core.tensors import check_time


class ConvBlock(nn.Sequential):
    """Conv1d(k) -> GroupNorm(8) -> Mish, length-preserving."""

    def __init__(self, cin: int, cout: int, kernel: int = 5):
        super().__init__(nn.Conv1d(cin, cout, kernel, padding=kernel // 2), nn.GroupNorm(8, cout), nn.Mish())


class ResidualTemporalBlock(nn.Module):
    """out = block2(block1(x) + mlp(emb)) + skip(x), the embedding broadcast over the horizon."""

    def __init__(self, cin: int, cout: int, emb_dim: int, kernel: int = 5):
        super().__init__()
        self.block1, self.block2 = ConvBlock(cin, cout, kernel), ConvBlock(cout, cout, kernel)
        self.emb = nn.Sequential(nn.Mish(), nn.Linear(emb_dim, cout))
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.block1(x) + self.emb(emb)[:, :, None]
        return self.block2(h) + self.skip(x)


def _widths(transition_dim: int, dim: int, dim_mults: tuple[int, ...]) -> list[tuple[int, int]]:
    """(in, out) channels of each level; the widths must suit GroupNorm(8)."""
    if transition_dim < 1 or not dim_mults or any(m < 1 for m in dim_mults):
        raise ValueError(
            f"need transition_dim >= 1 and positive dim_mults, got {transition_dim}, {dim_mults}"
        )
    if dim % 8:
        raise ValueError(f"dim must be a multiple of 8 (GroupNorm with 8 groups), got {dim}")
    widths = [transition_dim, *(dim * m for m in dim_mults)]
    return list(zip(widths[:-1], widths[1:]))


class TimeEmbedding(nn.Sequential):
    """Sinusoidal features of t, then Linear -> Mish -> Linear (Diffuser's time MLP)."""

    def __init__(self, dim: int):
        super().__init__(
            SinusoidalEmbedding(dim), nn.Linear(dim, 4 * dim), nn.Mish(), nn.Linear(4 * dim, dim)
        )


class TemporalUnet(nn.Module):
    """``TemporalUnet(transition_dim, dim, dim_mults)``: level i has ``dim * dim_mults[i]`` channels at
    horizon H / 2^i; H must be divisible by 2^(len(dim_mults) - 1)."""

    def __init__(
        self, transition_dim: int, dim: int = 32, dim_mults: tuple[int, ...] = (1, 2, 4), kernel: int = 5
    ):
        super().__init__()
        levels = _widths(transition_dim, dim, dim_mults)
        self.transition_dim, self.factor = transition_dim, 2 ** (len(levels) - 1)
        self.time = TimeEmbedding(dim)
        self.downs = nn.ModuleList(
            nn.ModuleList(
                [
                    ResidualTemporalBlock(cin, cout, dim, kernel),
                    ResidualTemporalBlock(cout, cout, dim, kernel),
                    nn.Conv1d(cout, cout, 3, stride=2, padding=1) if i < len(levels) - 1 else nn.Identity(),
                ]
            )
            for i, (cin, cout) in enumerate(levels)
        )
        mid = levels[-1][1]
        self.mid = nn.ModuleList([ResidualTemporalBlock(mid, mid, dim, kernel) for _ in range(2)])
        self.ups = nn.ModuleList(
            nn.ModuleList(
                [
                    ResidualTemporalBlock(2 * cout, cin, dim, kernel),
                    ResidualTemporalBlock(cin, cin, dim, kernel),
                    nn.ConvTranspose1d(cin, cin, 4, stride=2, padding=1),
                ]
            )
            for cin, cout in reversed(levels[1:])
        )
        first = levels[0][1]
        self.out = nn.Sequential(ConvBlock(first, dim, kernel), nn.Conv1d(dim, transition_dim, 1))

    def check_input(self, x: torch.Tensor, t: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[2] != self.transition_dim:
            raise ValueError(
                f"expected trajectories [B, H, {self.transition_dim}] (batch, horizon, transition), "
                f"got shape {tuple(x.shape)}"
            )
        if x.shape[1] % self.factor:
            raise ValueError(f"the horizon must be divisible by {self.factor}, got {x.shape[1]}")
        check_time(t, x[:, 0, 0])

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.check_input(x, t)
        emb = self.time(t)
        h, skips = x.transpose(1, 2), []
        for block1, block2, down in self.downs:
            h = block2(block1(h, emb), emb)
            skips.append(h)  # the first level's is left unused, as in Diffuser
            h = down(h)
        for block in self.mid:
            h = block(h, emb)
        for block1, block2, up in self.ups:
            h = block2(block1(torch.cat([h, skips.pop()], dim=1), emb), emb)
            h = up(h)
        return self.out(h).transpose(1, 2)


class TemporalValue(nn.Module):
    """Diffuser's value function ``V(x_t [B, H, D], t [B]) -> [B]``: the U-Net's encoder (residual blocks and
    stride-2 downsampling), flattened, then an MLP that also sees the time embedding. Its horizon is fixed."""

    def __init__(
        self, horizon: int, transition_dim: int, dim: int = 32, dim_mults: tuple[int, ...] = (1, 2, 4)
    ):
        super().__init__()
        levels = _widths(transition_dim, dim, dim_mults)
        if horizon % 2 ** len(levels):
            raise ValueError(
                f"the value net's horizon must be divisible by {2 ** len(levels)}, got {horizon}"
            )
        self.horizon, self.transition_dim = horizon, transition_dim
        self.time = TimeEmbedding(dim)
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                [
                    ResidualTemporalBlock(cin, cout, dim),
                    ResidualTemporalBlock(cout, cout, dim),
                    nn.Conv1d(cout, cout, 3, stride=2, padding=1),
                ]
            )
            for cin, cout in levels
        )
        flat = levels[-1][1] * (horizon // 2 ** len(levels))
        self.head = nn.Sequential(nn.Linear(flat + dim, 4 * dim), nn.Mish(), nn.Linear(4 * dim, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != (self.horizon, self.transition_dim):
            raise ValueError(
                f"expected trajectories [B, {self.horizon}, {self.transition_dim}], got shape {tuple(x.shape)}"
            )
        check_time(t, x[:, 0, 0])
        emb, h = self.time(t), x.transpose(1, 2)
        for block1, block2, down in self.blocks:
            h = down(block2(block1(h, emb), emb))
        return self.head(torch.cat([h.flatten(1), emb], dim=1)).squeeze(1)
