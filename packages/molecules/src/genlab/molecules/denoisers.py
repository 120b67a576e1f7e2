"""EDM's eps-network on the joint state z = [x, h] (Hoogeboom et al. 2022, Sec. 3.2 and 4).

``StateDenoiser`` follows genlab's one model interface, ``model(z_t, t, node_mask=...) -> eps``
with z of shape [B, N, 3 + F]: it zeroes padding atoms, splits z into coordinates and features,
runs a network of the form ``net(x, h, t, node_mask) -> (eps_x, eps_h)`` and projects eps_x onto
the zero centre-of-mass subspace over the real atoms (EDM's translation invariance; ``com=False``
is the ablation without it). Networks: ``egnn`` (EDM's), ``e3nn`` (tensor products, ablation),
``transformer`` (not equivariant, EDM's "GDM" ablation).
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.diffusion import remove_com
from genlab.core.lookup import lookup
from genlab.molecules.atom_transformer import AtomTransformer
from genlab.molecules.egnn import EGNN
from genlab.molecules.tensor_product_net import TensorProductNet

NETWORKS: dict[str, type[nn.Module]] = {
    "egnn": EGNN,
    "e3nn": TensorProductNet,
    "transformer": AtomTransformer,
}


class StateDenoiser(nn.Module):
    """eps-prediction on z = [x, h] [B, N, 3 + F] with a node mask [B, N]; zero on padding atoms."""

    def __init__(self, net: nn.Module, n_features: int, com: bool = True):
        super().__init__()
        self.net, self.n_features, self.com = net, n_features, com

    def forward(self, z: torch.Tensor, t: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
        if z.ndim != 3 or z.shape[-1] != 3 + self.n_features:
            raise ValueError(
                f"state must have shape [B, N, {3 + self.n_features}] (x, h), got {list(z.shape)}"
            )
        if node_mask.shape != z.shape[:2]:
            raise ValueError(f"node_mask must have shape {list(z.shape[:2])}, got {list(node_mask.shape)}")
        mask = node_mask.bool()
        z = torch.where(mask[..., None], z, torch.zeros((), dtype=z.dtype, device=z.device))
        eps_x, eps_h = self.net(z[..., :3], z[..., 3:], t, mask)
        eps_x = remove_com(eps_x, mask) if self.com else eps_x
        return torch.cat([eps_x, eps_h], dim=-1) * mask[..., None].to(z.dtype)


def build_denoiser(name: str, n_features: int, hidden: int, layers: int, com: bool = True) -> StateDenoiser:
    """A ``StateDenoiser`` around the network ``name`` (one of ``NETWORKS``)."""
    net = lookup("denoiser", name, NETWORKS)(n_features, hidden=hidden, layers=layers)
    return StateDenoiser(net, n_features, com)
