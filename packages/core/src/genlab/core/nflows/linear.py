"""Channel mixing: fixed permutations and the invertible 1x1 convolution (Glow, section 3.2).

Both act on axis 1 of [B, C] vectors or [B, C, H, W] images, the same map at every position.
y = W x has log-det = (spatial size) * log|det W|.  With ``lu=True`` W = P L (U + diag(sign * exp(log_s)))
(Glow eq. 10): P is a fixed permutation, L unit lower-triangular, U strictly upper-triangular, so
log|det W| = sum log_s costs O(C) instead of O(C^3).  W starts as a random rotation.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.nflows.base import Bijection, check_channels


def _mix(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bj...->bi...", weight, x)


class Permute(Bijection):
    """x[:, perm]; ``Permute.reverse(c)`` flips the order (between autoregressive layers)."""

    def __init__(self, perm: torch.Tensor):
        super().__init__()
        perm = torch.as_tensor(perm, dtype=torch.long)
        if not torch.equal(perm.sort().values, torch.arange(len(perm))):
            raise ValueError(f"perm must be a permutation of 0..{len(perm) - 1}, got {perm.tolist()}")
        # plain index lists, not buffers: an architecture constant, and weight averaging (EMA) of a
        # model's buffers only takes floating-point tensors
        self.perm, self.inv_perm = perm.tolist(), torch.argsort(perm).tolist()

    @classmethod
    def reverse(cls, channels: int) -> Permute:
        return cls(torch.arange(channels - 1, -1, -1))

    def forward(self, x, context=None):
        check_channels(x, len(self.perm), "Permute")
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, z, context=None):
        check_channels(z, len(self.perm), "Permute")
        return z[:, self.inv_perm], z.new_zeros(z.shape[0])


class Invertible1x1Conv(Bijection):
    """y = W x at every position of axis 1; ``lu=True`` for the LU parameterisation."""

    def __init__(self, channels: int, lu: bool = False):
        super().__init__()
        self.channels, self.lu = channels, lu
        rotation = torch.linalg.qr(torch.randn(channels, channels))[0]
        if not lu:
            self.weight = nn.Parameter(rotation)
            return
        p, lower, upper = torch.linalg.lu(rotation)
        diag = upper.diagonal()
        self.register_buffer("p", p)
        self.register_buffer("sign", diag.sign())
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(upper.triu(1))
        self.log_s = nn.Parameter(diag.abs().log())

    def matrix(self) -> torch.Tensor:
        """W, assembled from its LU factors when ``lu``."""
        if not self.lu:
            return self.weight
        lower = self.lower.tril(-1) + self.eye
        upper = self.upper.triu(1) + torch.diag(self.sign * self.log_s.exp())
        return self.p @ lower @ upper

    def log_abs_det(self) -> torch.Tensor:
        return self.log_s.sum() if self.lu else torch.linalg.slogdet(self.weight)[1]

    def forward(self, x, context=None):
        check_channels(x, self.channels, "Invertible1x1Conv")
        logdet = x[0, 0].numel() * self.log_abs_det()
        return _mix(self.matrix(), x), logdet.expand(x.shape[0])

    def inverse(self, z, context=None):
        check_channels(z, self.channels, "Invertible1x1Conv")
        logdet = -z[0, 0].numel() * self.log_abs_det()
        return _mix(torch.linalg.inv(self.matrix()), z), logdet.expand(z.shape[0])
