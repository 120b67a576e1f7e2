"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al. 2015).

Every unit gets a degree: the inputs the degrees 1..D of ``order``, hidden units degrees in 1..D-1.
A hidden unit of degree k may see units of degree <= k (eq. 12); output d, of degree order[d], may
see only hidden units of degree < order[d] (eq. 13).  So output d depends exactly on the inputs that
come before it in the order, and never on itself or later ones.  A context vector, when given, feeds
the first hidden layer unmasked (Kingma et al. 2016's IAF context h); hidden degrees then start at 0,
units that see the context but no input, so that the first output depends on the context too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.nflows.base import check_features


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask of shape [out, in]."""

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """``MADE(features, hidden, depth, params, context_features, order)(x, context) -> [B, params, D]``.

    Output [:, p, d] is the p-th parameter of the conditional of x_d given the x that precede it in
    ``order`` (a permutation of 1..D; default 1..D).  The last layer starts at zero.
    """

    def __init__(
        self,
        features: int,
        hidden: int = 64,
        depth: int = 2,
        params: int = 2,
        context_features: int = 0,
        order: torch.Tensor | None = None,
    ):
        super().__init__()
        if depth < 1:
            raise ValueError(f"MADE needs at least one hidden layer, got depth={depth}")
        self.features, self.params = features, params
        order = torch.arange(1, features + 1) if order is None else torch.as_tensor(order)
        if not torch.equal(order.sort().values, torch.arange(1, features + 1)):
            raise ValueError(f"order must be a permutation of 1..{features}, got {order.tolist()}")
        self.order = (
            order  # fixed by the masks below; a plain tensor, since weight averaging only takes floats
        )
        low = 0 if context_features else 1  # degree-0 units see only the context, and feed output 1
        degrees = [order] + [low + torch.arange(hidden) % max(features - low, 1) for _ in range(depth)]
        self.hidden = nn.ModuleList(
            MaskedLinear(d_out[:, None] >= d_in[None, :]) for d_in, d_out in zip(degrees, degrees[1:])
        )
        self.context = nn.Linear(context_features, hidden) if context_features else None
        self.out = MaskedLinear((order[:, None] > degrees[-1][None, :]).repeat(params, 1))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        check_features(x, 2, self.features)
        h = x
        for i, layer in enumerate(self.hidden):
            h = layer(h)
            if i == 0 and self.context is not None:
                if context is None:
                    raise ValueError("this MADE was built with context_features but got no context")
                h = h + self.context(context)
            h = F.relu(h)
        return self.out(h).view(x.shape[0], self.params, self.features)
