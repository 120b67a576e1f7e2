"""Finite scalar quantization (FSQ; Mentzer et al., 2024): a codebook with no parameters.

Channel i is squashed to (-(L_i - 1)/2, (L_i - 1)/2) and rounded, so it takes one of L_i levels;
the code is the tuple of levels, prod_i L_i codes in all. Rounding passes gradients straight
through, and there are no auxiliary losses. For even L_i the levels are offset by 1/2 so that
bound(0) lands on a level: bound(z) = tanh(z + atanh(o / h)) h - o with h = (L - 1)(1 + eps)/2,
o = 1/2 for even L, else 0. Codes are scaled to [-1, 1] by L // 2.
"""

from __future__ import annotations

import torch

from genlab.core.tokenizers.base import Quantizer, check_channels, straight_through


class FSQ(Quantizer):
    """``fsq(z [..., len(levels)]) -> (codes in [-1, 1], indices [...], {})``."""

    def __init__(self, levels: list[int] | tuple[int, ...], eps: float = 1e-3):
        super().__init__()
        if len(levels) == 0 or min(levels) < 2:
            raise ValueError(f"FSQ levels must be integers >= 2, got {levels}")
        levels_t = torch.tensor(levels, dtype=torch.long)
        basis = torch.cumprod(torch.cat([levels_t.new_ones(1), levels_t[:-1]]), 0)
        # float buffers (exact small integers) so that weight averaging (the trainer's EMA) can take them
        self.register_buffer("levels", levels_t.float(), persistent=False)
        self.register_buffer("basis", basis.float(), persistent=False)
        self.eps = eps
        self.codebook_size = int(levels_t.prod())

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        half = (self.levels - 1) * (1 + self.eps) / 2  # 1 + eps keeps o / h < 1 for L = 2
        offset = (self.levels % 2 == 0) * 0.5
        return torch.tanh(z + torch.atanh(offset / half)) * half - offset

    def forward(self, z: torch.Tensor):
        check_channels(z, len(self.levels), "FSQ")
        zf = z.float()
        bounded = self.bound(zf)
        rounded = straight_through(bounded, bounded.round())
        codes = rounded / (self.levels // 2)
        levels, basis = self.levels.long(), self.basis.long()
        digits = rounded.detach().round().long() + levels // 2
        return codes.to(z.dtype), (digits * basis).sum(-1), {}

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        digits = (indices[..., None] // self.basis.long()) % self.levels.long()
        return (digits - self.levels // 2) / (self.levels // 2)
