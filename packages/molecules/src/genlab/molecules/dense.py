"""Padded ("dense") molecule batches: coordinates [B, N, 3], features [B, N, F], node mask [B, N].

EDM (Hoogeboom et al. 2022) runs its networks on fully connected molecules padded to the largest
one in the batch; a node mask marks the real atoms and every pair of distinct real atoms is an
edge. These helpers check such a batch and build the edge mask, for every denoiser in the package.
"""

from __future__ import annotations

import torch


def check_dense(x: torch.Tensor, h: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
    """Validate (x [B, N, 3], h [B, N, F], node_mask [B, N]) and return the mask as bool."""
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"coordinates must have shape [B, N, 3], got {list(x.shape)}")
    if h.ndim != 3 or h.shape[:2] != x.shape[:2]:
        raise ValueError(
            f"features must have shape [B, N, F] with [B, N] = {list(x.shape[:2])}, got {list(h.shape)}"
        )
    if node_mask.shape != x.shape[:2]:
        raise ValueError(f"node_mask must have shape {list(x.shape[:2])}, got {list(node_mask.shape)}")
    mask = node_mask.bool()
    if not mask.any(1).all():
        raise ValueError(
            "every molecule in the batch needs at least one real atom (node_mask row is all False)"
        )
    return mask


def pair_mask(node_mask: torch.Tensor) -> torch.Tensor:
    """Edges [B, N, N]: both atoms real and distinct."""
    eye = torch.eye(node_mask.shape[1], dtype=torch.bool, device=node_mask.device)
    return node_mask[:, :, None] & node_mask[:, None, :] & ~eye


def pair_differences(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x_i - x_j [B, N, N, 3] and squared distances [B, N, N, 1]."""
    diff = x[:, :, None, :] - x[:, None, :, :]
    return diff, diff.square().sum(-1, keepdim=True)


def time_features(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """t [B] (or a scalar) broadcast to one feature per atom, [B, N, 1]."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.ndim == 0:
        t = t.expand(x.shape[0])
    if t.shape != x.shape[:1]:
        raise ValueError(
            f"t must have shape [{x.shape[0]}] (one noise level per molecule), got {list(t.shape)}"
        )
    return t[:, None, None].expand(*x.shape[:2], 1)


def pack(molecules) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``Data`` molecules (pos, z) into pos [M, N, 3] and types [M, N], -1 on padding atoms."""
    if len(molecules) == 0:
        raise ValueError("cannot pack an empty list of molecules")
    n = max(len(d.z) for d in molecules)
    pos = torch.zeros(len(molecules), n, 3)
    types = torch.full((len(molecules), n), -1, dtype=torch.long)
    for i, d in enumerate(molecules):
        pos[i, : len(d.z)] = d.pos
        types[i, : len(d.z)] = d.z
    return pos, types
