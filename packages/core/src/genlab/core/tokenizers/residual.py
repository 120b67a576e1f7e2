"""Residual vector quantization (Juang & Gray, 1982; SoundStream, Zeghidour et al., 2021).

Quantizer i codes what the previous ones left: r_0 = z, c_i = VQ_i(r_i), r_{i+1} = r_i - c_i, and
z is approximated by sum_i c_i; every extra quantizer refines the approximation.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.tokenizers.base import Quantizer, check_channels, straight_through
from genlab.core.tokenizers.vq import VectorQuantizer


class ResidualVQ(Quantizer):
    """``rvq(z [..., dim]) -> (quantized, indices [..., num_quantizers], {"commitment": summed})``.

    Extra keyword arguments go to every ``VectorQuantizer`` (each has its own codebook).
    """

    def __init__(self, dim: int, codebook_size: int, num_quantizers: int, **vq_kwargs):
        super().__init__()
        if num_quantizers < 1:
            raise ValueError(f"need at least one quantizer, got {num_quantizers}")
        self.dim = dim
        self.layers = nn.ModuleList(
            VectorQuantizer(dim, codebook_size, **vq_kwargs) for _ in range(num_quantizers)
        )

    def forward(self, z: torch.Tensor):
        check_channels(z, self.dim, "ResidualVQ")
        residual, total, indices, commitment = z, torch.zeros_like(z), [], 0.0
        for vq in self.layers:
            quantized, idx, aux = vq(residual)
            code = quantized.detach()  # the codes the VQ chose (before its EMA step)
            residual, total = residual - code, total + code
            indices.append(idx)
            commitment = commitment + aux["commitment"]
        return straight_through(z, total), torch.stack(indices, -1), {"commitment": commitment}

    def indices_to_codes(self, indices: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """Sum of the first ``depth`` (default all) quantizers' codes for indices [..., num_quantizers]."""
        layers = self.layers[: depth or len(self.layers)]
        return sum(vq.indices_to_codes(indices[..., i]) for i, vq in enumerate(layers))
