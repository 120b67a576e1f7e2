"""VAR's multi-scale residual quantization (Tian et al., 2024, Alg. 1 and 2).

A feature map f [B, C, H, W] becomes K token maps r_1..r_K of growing sizes (1x1, 2x2, ...,
HxW), all with one shared codebook. At scale k the residual is area-downsampled and quantized,
the codes are upsampled back to H x W and refined by a convolution phi_k, and the result is
subtracted from the residual:

    r_k = Q(down_k(f - fhat_{k-1})),   fhat_k = fhat_{k-1} + phi_k(up(lookup(r_k))).

phi_k(h) = (1 - rho) h + rho conv3x3(h); ``num_phi`` convolutions are shared across scales by
relative depth, as in VAR. The codebook is a ``VectorQuantizer`` (EMA, so it takes no gradient);
the phi convolutions learn from the ``codebook`` loss ||fhat_k - sg(f)||^2 and the encoder from
the ``commitment`` loss beta ||f - sg(fhat_k)||^2, both averaged over scales as in VAR.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.tokenizers.base import Quantizer, straight_through
from genlab.core.tokenizers.vq import VectorQuantizer


class Phi(nn.Module):
    """h -> (1 - rho) h + rho conv3x3(h)."""

    def __init__(self, dim: int, rho: float):
        super().__init__()
        self.rho = rho
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return (1 - self.rho) * h + self.rho * self.conv(h)


class MultiScaleVQ(Quantizer):
    """``msvq(f [B, dim, H, W]) -> (quantized, [r_1 .. r_K] with r_k [B, s_k, s_k], aux)``."""

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        scales: tuple[int, ...] = (1, 2, 3, 4, 6, 8),
        num_phi: int = 4,
        rho: float = 0.5,
        beta: float = 0.25,
        upsample: str = "bicubic",
        **vq_kwargs,
    ):
        super().__init__()
        if list(scales) != sorted(set(scales)) or scales[0] < 1:
            raise ValueError(f"scales must be increasing positive sizes, got {scales}")
        self.dim, self.scales, self.beta, self.upsample = dim, tuple(scales), beta, upsample
        self.vq = VectorQuantizer(dim, codebook_size, commitment_weight=0.0, **vq_kwargs)
        self.phis = nn.ModuleList(Phi(dim, rho) for _ in range(num_phi))

    def phi(self, k: int) -> Phi:
        """The phi shared by scales near relative depth k / (K - 1)."""
        depth = k / max(len(self.scales) - 1, 1)
        return self.phis[round(depth * (len(self.phis) - 1))]

    def _up(self, h: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return h if h.shape[-2:] == size else F.interpolate(h, size=size, mode=self.upsample)

    def forward(self, f: torch.Tensor):
        if (
            f.ndim != 4
            or f.shape[1] != self.dim
            or f.shape[-1] < self.scales[-1]
            or f.shape[-2] < self.scales[-1]
        ):
            raise ValueError(
                f"MultiScaleVQ expects [B, {self.dim}, H, W] with H, W >= {self.scales[-1]}, got {tuple(f.shape)}"
            )
        size = tuple(f.shape[-2:])
        target = f.detach()
        if self.training and not self.vq.initialized:  # k-means on full-resolution vectors, not on 1x1 means
            self.vq.init_codebook(target.permute(0, 2, 3, 1).reshape(-1, self.dim).float())
        fhat, residual, indices = torch.zeros_like(f), target, []
        commitment = codebook = 0.0
        for k, s in enumerate(self.scales):
            down = F.interpolate(residual, size=(s, s), mode="area") if (s, s) != size else residual
            quantized, idx, _ = self.vq(down.permute(0, 2, 3, 1))
            indices.append(idx)
            fhat = fhat + self.phi(k)(self._up(quantized.detach().permute(0, 3, 1, 2), size))
            residual = target - fhat.detach()
            commitment = commitment + self.beta * F.mse_loss(f, fhat.detach())
            codebook = codebook + F.mse_loss(fhat, target)
        aux = {"commitment": commitment / len(self.scales), "codebook": codebook / len(self.scales)}
        return straight_through(f, fhat), indices, aux

    def indices_to_codes(
        self, indices: list[torch.Tensor], size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """fhat from the first len(indices) scales' token maps, at ``size`` (default: the last scale)."""
        size = size or (self.scales[-1], self.scales[-1])
        fhat = 0.0
        for k, idx in enumerate(indices):
            codes = self.vq.indices_to_codes(idx).permute(0, 3, 1, 2)
            fhat = fhat + self.phi(k)(self._up(codes, size))
        return fhat
