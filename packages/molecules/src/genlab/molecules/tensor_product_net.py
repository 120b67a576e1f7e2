"""An E(3)-equivariant denoiser built from e3nn tensor products: the ablation of EDM's EGNN.

A tensor field network (Thomas et al. 2018) in the gated, NequIP-like form (Batzner et al. 2022;
e3nn, Geiger & Smidt 2022). Atom i carries scalars (0e) and vectors (1o). Along every edge j -> i
the features of j are coupled with the spherical harmonics Y(x_i - x_j) by a channel-wise tensor
product whose weights come from an MLP of the distance (Gaussian basis) and both atoms' scalars
(layer-normalised, so that a message stays linear in f_j):

    m_ij = TP_w(d_ij, s_i, s_j)(f_j, Y(x_i - x_j)),      f_i <- f_i + Gate(L1 f_i + L2 sum_j m_ij)

Only even scalars and odd vectors are kept, so the map is equivariant to rotations *and*
reflections; positions are not moved. The output is a vector per atom (eps for the coordinates)
and scalars (eps for the features). Same interface as ``egnn.EGNN``.
"""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import Gate
from torch import nn

from genlab.molecules.dense import check_dense, pair_differences, pair_mask, time_features

KEPT = (o3.Irrep("0e"), o3.Irrep("1o"))  # true scalars and vectors: E(3), not only SO(3)


class TensorProductConv(nn.Module):
    """One gated tensor-product convolution over all pairs of real atoms."""

    def __init__(self, irreps_node: o3.Irreps, irreps_sh: o3.Irreps, n_basis: int, aggregation_norm: float):
        super().__init__()
        irreps_mid, instructions = [], []
        for i, (mul, ir) in enumerate(irreps_node):
            for j, (_, ir_sh) in enumerate(irreps_sh):
                for ir_out in ir * ir_sh:
                    if ir_out in KEPT:
                        instructions.append((i, j, len(irreps_mid), "uvu", True))
                        irreps_mid.append((mul, ir_out))
        self.tp = o3.TensorProduct(
            irreps_node,
            irreps_sh,
            o3.Irreps(irreps_mid),
            instructions,
            shared_weights=False,
            internal_weights=False,
        )
        scalars = irreps_node.count("0e")
        vectors = irreps_node.count("1o")
        self.n_scalars = scalars
        self.scalar_norm = nn.LayerNorm(scalars)  # keeps the weights, hence the messages, linear in f
        self.weights = nn.Sequential(
            nn.Linear(n_basis + 2 * scalars, scalars), nn.SiLU(), nn.Linear(scalars, self.tp.weight_numel)
        )
        self.gate = Gate(
            f"{scalars}x0e", [nn.functional.silu], f"{vectors}x0e", [torch.sigmoid], f"{vectors}x1o"
        )
        self.mix_messages = o3.Linear(self.tp.irreps_out, self.gate.irreps_in)
        self.mix_self = o3.Linear(irreps_node, self.gate.irreps_in)
        self.norm = aggregation_norm

    def forward(self, f, sh, rbf, edges):
        n = f.shape[1]
        s = self.scalar_norm(f[..., : self.n_scalars])
        pair_scalars = torch.cat(
            [rbf, s[:, :, None].expand(-1, -1, n, -1), s[:, None].expand(-1, n, -1, -1)], dim=-1
        )
        messages = self.tp(f[:, None].expand(-1, n, -1, -1), sh, self.weights(pair_scalars))
        aggregated = (messages * edges[..., None]).sum(2) / self.norm
        return f + self.gate(self.mix_self(f) + self.mix_messages(aggregated))


class TensorProductNet(nn.Module):
    """``net(x [B, N, 3], h [B, N, F], t [B], node_mask [B, N]) -> (eps_x [B, N, 3], eps_h [B, N, F])``."""

    def __init__(
        self,
        n_features: int,
        hidden: int = 64,
        layers: int = 4,
        vectors: int | None = None,
        lmax: int = 2,
        n_basis: int = 16,
        cutoff: float = 8.0,
        aggregation_norm: float = 1.0,
    ):
        super().__init__()
        if layers < 1 or hidden < 1:
            raise ValueError(f"TensorProductNet needs layers >= 1 and hidden >= 1, got {layers}, {hidden}")
        vectors = vectors or max(1, hidden // 4)
        irreps_node = o3.Irreps(f"{hidden}x0e + {vectors}x1o")
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        self.n_basis, self.cutoff, self.hidden = n_basis, cutoff, hidden
        self.embed = nn.Linear(n_features + 1, hidden)
        self.layers = nn.ModuleList(
            TensorProductConv(irreps_node, self.irreps_sh, n_basis, aggregation_norm) for _ in range(layers)
        )
        self.out = o3.Linear(irreps_node, o3.Irreps(f"{n_features}x0e + 1x1o"))
        with torch.no_grad():
            self.out.weight.mul_(1e-3)  # start near eps_hat = 0, as EDM's coordinate head does
        self.n_features, self.dim = n_features, irreps_node.dim

    def forward(self, x, h, t, node_mask):
        mask = check_dense(x, h, node_mask)
        edges = pair_mask(mask)
        m = mask[..., None].to(x.dtype)
        diff, dist2 = pair_differences(x)
        # Y(0) is undefined: self-pairs and padding get a dummy direction, and their messages are masked
        diff = torch.where(edges[..., None], diff, torch.ones_like(diff))
        sh = o3.spherical_harmonics(self.irreps_sh, diff, normalize=True, normalization="component")
        dist = torch.sqrt(dist2.squeeze(-1) + 1e-12)
        rbf = soft_one_hot_linspace(dist, 0.0, self.cutoff, self.n_basis, basis="gaussian", cutoff=False)
        scalars = self.embed(torch.cat([h, time_features(t, x)], dim=-1))
        f = torch.cat([scalars, scalars.new_zeros(*scalars.shape[:2], self.dim - self.hidden)], dim=-1) * m
        for layer in self.layers:
            f = layer(f, sh, rbf, edges) * m
        out = self.out(f)
        return out[..., self.n_features :] * m, out[..., : self.n_features] * m
