"""E(n)-equivariant graph network (Satorras et al. 2021) in EDM's form (Hoogeboom et al. 2022, App. B).

Dense over all pairs of real atoms. One layer (EDM's ``EquivariantBlock``: a message-passing update
of h, then an equivariant update of x read from the updated h), with d_ij = ||x_i - x_j||:

    m_ij  = phi_e(h_i, h_j, d_ij^2, a_ij),   e_ij = sigmoid(phi_att(m_ij))       (attention)
    h_i' <- h_i + phi_h(h_i, sum_j e_ij m_ij)
    x_i  <- x_i + sum_j (x_i - x_j) / (d_ij + 1) * tanh(phi_x(h_i', h_j', d_ij^2, a_ij)) * r

where a_ij is the squared distance at the network's input and r = coords_range / layers (EDM's
tanh-bounded update, with its 1 added to the distance). Distances are invariant and x_i - x_j
rotates, so the coordinate update is E(3)-equivariant and the features invariant. Time enters as an
extra input feature (EDM). The network returns the displacement x_out - x_in (EDM's "velocity", read
as eps for the coordinates) and the feature output; ``StateDenoiser`` removes its centre of mass.

phi_x has its own MLP, as in EDM. Reading it off the message m_ij instead (Satorras et al.'s EGNN)
saves about 45% of the step time but trained with loss spikes (gradient norms up to 5e6) and learnt
less per step; at equal CPU time the two are level (docs/benchmarks.md, Molecules).
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.molecules.dense import check_dense, pair_differences, pair_mask, time_features


class PairMLP(nn.Module):
    """phi(h_i, h_j, e_ij): a two-layer MLP on the concatenation [h_i, h_j, e_ij] whose first layer is
    split into per-atom projections A h_i + B h_j (O(N H^2)) plus C e_ij, instead of O(N^2 H^2)."""

    def __init__(self, hidden: int, edge_dim: int, out: int):
        super().__init__()
        self.src = nn.Linear(hidden, hidden)
        self.dst = nn.Linear(hidden, hidden, bias=False)
        self.edge = nn.Linear(edge_dim, hidden, bias=False)
        self.rest = nn.Sequential(nn.SiLU(), nn.Linear(hidden, out), nn.SiLU())

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return self.rest(self.src(h)[:, :, None] + self.dst(h)[:, None, :] + self.edge(e))


class EGNNLayer(nn.Module):
    """EDM's attention-gated message-passing update of h, then the equivariant update of x from the new h."""

    def __init__(self, hidden: int, coords_range: float, aggregation_norm: float = 1.0):
        super().__init__()
        self.edge = PairMLP(hidden, 2, hidden)  # phi_e; edge features: d_ij^2 and a_ij
        self.coord_mlp = PairMLP(hidden, 2, hidden)  # phi_x up to its last layer, ``coord``
        self.attention = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid())
        self.node = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.coord = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(self.coord.weight, gain=0.001)  # start near the identity map on x
        self.coords_range, self.norm = coords_range, aggregation_norm

    def forward(self, h, x, dist2_in, node_mask, edges):
        diff, dist2 = pair_differences(x)
        e = torch.cat([dist2, dist2_in], dim=-1)
        m = self.edge(h, e)
        m = m * (self.attention(m) * edges[..., None])  # gate and mask at width 1, one product at width H
        h = (h + self.node(torch.cat([h, m.sum(2) / self.norm], dim=-1))) * node_mask[..., None]
        gate = torch.tanh(self.coord(self.coord_mlp(h, e))) * self.coords_range
        unit = diff / (torch.sqrt(dist2 + 1e-8) + 1.0)
        x = x + (unit * gate * edges[..., None]).sum(2) / self.norm
        return h, x * node_mask[..., None]


class EGNN(nn.Module):
    """``net(x [B, N, 3], h [B, N, F], t [B], node_mask [B, N]) -> (dx [B, N, 3], dh [B, N, F])``.

    Outputs are zero on padding atoms, and padding atoms never influence real ones.
    """

    def __init__(
        self,
        n_features: int,
        hidden: int = 128,
        layers: int = 6,
        coords_range: float = 15.0,
        aggregation_norm: float = 1.0,
    ):
        super().__init__()
        if layers < 1 or hidden < 1:
            raise ValueError(f"EGNN needs layers >= 1 and hidden >= 1, got layers={layers}, hidden={hidden}")
        self.embed = nn.Linear(n_features + 1, hidden)
        self.layers = nn.ModuleList(
            EGNNLayer(hidden, coords_range / layers, aggregation_norm) for _ in range(layers)
        )
        self.out = nn.Linear(hidden, n_features)

    def forward(self, x, h, t, node_mask):
        mask = check_dense(x, h, node_mask)
        edges = pair_mask(mask)
        m = mask[..., None].to(x.dtype)
        _, dist2_in = pair_differences(x)
        state = self.embed(torch.cat([h, time_features(t, x)], dim=-1)) * m
        y = x
        for layer in self.layers:
            state, y = layer(state, y, dist2_in, mask, edges)
        return (y - x) * m, self.out(state) * m
