"""The one interface of genlab's quantizers, and the straight-through estimator they share.

``quantizer(z) -> (quantized, indices, aux_losses)``: ``quantized`` has z's shape and passes
gradients straight through to z (Bengio et al., 2013; VQ-VAE, van den Oord et al., 2017);
``aux_losses`` maps names to weighted scalar losses to add to the training loss;
``quantizer.indices_to_codes(indices)`` gives back the quantized values.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.tensors import check_finite


def straight_through(z: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """q in the forward pass, identity gradient to z in the backward pass."""
    return z + (q - z).detach()


class Quantizer(nn.Module):
    """Base class: subclasses implement ``forward`` and ``indices_to_codes``."""

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def check_channels(z: torch.Tensor, dim: int, name: str) -> None:
    """Raise a ValueError unless z is [..., dim] and finite."""
    if z.ndim < 1 or z.shape[-1] != dim:
        raise ValueError(f"{name} expects inputs of shape [..., {dim}], got {tuple(z.shape)}")
    check_finite(z, f"{name}'s input")
