"""Noise hooks ``noise_fn(x, generator) -> eps`` shared by training losses and samplers.

``gaussian`` is the default. ``zero_com`` draws noise in the zero centre-of-mass subspace over the
real nodes of a padded point cloud, which makes a diffusion over atom positions translation
invariant (Hoogeboom et al. 2022, E(3) equivariant diffusion, Sec. 3.2); its likelihood lives in
(N - 1) * d dimensions (``com_free_dims``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

NoiseFn = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


def gaussian(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise shaped like x."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _node_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if x.ndim != 3:
        raise ValueError(f"expected a point cloud of shape [B, N, d], got {tuple(x.shape)}")
    if mask is None:
        return torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"node mask of shape {tuple(mask.shape)} does not match x of shape {tuple(x.shape)}")
    return mask.to(x.dtype)


def remove_com(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """x [B, N, d] minus its centre of mass over the real nodes (mask [B, N]); padding set to 0."""
    m = _node_mask(x, mask)[..., None]
    com = (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1)
    return (x - com) * m


def zero_com(mask: torch.Tensor | None = None) -> NoiseFn:
    """A noise_fn drawing Gaussian noise projected onto the zero centre-of-mass subspace."""

    def noise(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return remove_com(gaussian(x, generator), mask)

    return noise


def com_free_dims(mask: torch.Tensor, d: int = 3) -> torch.Tensor:
    """(N - 1) d per sample: the dimension of the zero centre-of-mass subspace, for likelihoods."""
    return (mask.sum(-1) - 1) * d
