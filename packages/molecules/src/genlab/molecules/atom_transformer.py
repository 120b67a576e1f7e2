"""A non-equivariant denoiser: a transformer over atoms that reads raw coordinates.

EDM's ablation (Hoogeboom et al. 2022, Sec. 5.1, "GDM") replaces the EGNN by a network that sees
coordinates as plain input features, so nothing ties its output to rotations. Here each atom is a
token [x, h, t] and a pre-norm transformer encoder (Vaswani et al. 2017) with a padding mask maps
it to [eps_x, eps_h]; it is permutation equivariant and ignores padding, but not E(3)-equivariant.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.molecules.dense import check_dense, time_features


class AtomTransformer(nn.Module):
    """``net(x [B, N, 3], h [B, N, F], t [B], node_mask [B, N]) -> (eps_x [B, N, 3], eps_h [B, N, F])``."""

    def __init__(self, n_features: int, hidden: int = 128, layers: int = 6, heads: int = 4):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden={hidden} must be divisible by heads={heads}")
        self.n_features = n_features
        self.embed = nn.Linear(3 + n_features + 1, hidden)
        block = nn.TransformerEncoderLayer(
            hidden, heads, 2 * hidden, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, 3 + n_features))

    def forward(self, x, h, t, node_mask):
        mask = check_dense(x, h, node_mask)
        tokens = self.embed(torch.cat([x, h, time_features(t, x)], dim=-1))
        out = self.out(self.encoder(tokens, src_key_padding_mask=~mask)) * mask[..., None].to(x.dtype)
        return out[..., :3], out[..., 3:]
