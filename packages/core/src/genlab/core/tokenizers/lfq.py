"""Lookup-free quantization (LFQ; MAGVIT-v2, Yu et al., 2024, Sec. 3.1).

Each of the d channels is quantized to its sign, q_i = +1 if z_i > 0 else -1, so the implicit
codebook is {-1, 1}^d with index sum_i 2^(d-1-i) 1[z_i > 0] (first channel most significant).
Codebook use is encouraged by the entropy penalty

    L_entropy = E_z[H(p(c | z))] - gamma H(E_z[p(c | z)]),   p(c | z) ∝ exp(-tau ||z - c||^2),

low per-sample entropy (confident codes) and high codebook entropy (all codes used), plus a
commitment loss ||z - sg(q)||^2. Because ||c||^2 = d for every code, p(c | z) factorises over
channels into Bernoullis with p(c_i = +1 | z) = sigmoid(4 tau z_i). So the per-sample entropy is a
sum of binary entropies, and the batch-mean assignment over all 2^d codes is an outer product of
two half-codebook assignments, one matrix product: both exact without a [N, 2^d] tensor.
Everything runs in float32, whatever the autocast dtype (low precision breaks the entropies).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.core.tokenizers.base import Quantizer, check_channels, straight_through


def _half_assignments(log_pos: torch.Tensor, log_neg: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """p(c_half | z) for every code of a group of channels: [N, 2^k] from per-channel log-probs [N, k]."""
    return torch.exp(log_pos @ bits.T + log_neg @ (1 - bits).T)


class LFQ(Quantizer):
    """``lfq(z [..., dim]) -> (codes in {-1, 1}, indices [...], {"entropy", "commitment"})``."""

    def __init__(
        self,
        dim: int,
        entropy_weight: float = 0.1,
        commitment_weight: float = 0.25,
        diversity_gamma: float = 1.0,
        inv_temperature: float = 100.0,
    ):
        super().__init__()
        if dim < 1:
            raise ValueError(f"LFQ needs dim >= 1, got {dim}")
        self.dim, self.codebook_size = dim, 2**dim
        self.entropy_weight, self.commitment_weight = entropy_weight, commitment_weight
        self.diversity_gamma, self.inv_temperature = diversity_gamma, inv_temperature
        # a float buffer (exact powers of two) so that weight averaging (the trainer's EMA) can take it
        self.register_buffer("powers", 2.0 ** torch.arange(dim - 1, -1, -1), persistent=False)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        return ((indices[..., None] & self.powers.long()) != 0).float() * 2 - 1

    def entropies(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean per-sample entropy, codebook entropy) in nats, for z [N, dim]."""
        logits = 4 * self.inv_temperature * z
        log_pos, log_neg = F.logsigmoid(logits), F.logsigmoid(-logits)
        per_sample = -(log_pos.exp() * log_pos + log_neg.exp() * log_neg).sum(-1).mean()
        split = self.dim // 2  # codes split into a high group of `split` channels and a low group
        high = _half_assignments(log_pos[:, :split], log_neg[:, :split], self._bits(split))
        low = _half_assignments(log_pos[:, split:], log_neg[:, split:], self._bits(self.dim - split))
        avg = (high.T @ low / len(z)).flatten()  # index = high * 2^(dim - split) + low
        # avg log avg with the log clamped: codes whose mean assignment underflows to 0 (saturated
        # sigmoids) would otherwise send a gradient log(0) * 0 = NaN back to z
        return per_sample, -(avg * avg.clamp_min(torch.finfo(avg.dtype).tiny).log()).sum()

    def _bits(self, k: int) -> torch.Tensor:
        """All 2^k codes of k channels as 0/1 bits, most significant first, [2^k, k]."""
        codes = torch.arange(2**k, device=self.powers.device)
        return ((codes[:, None] >> torch.arange(k - 1, -1, -1, device=codes.device)) & 1).float()

    def forward(self, z: torch.Tensor):
        check_channels(z, self.dim, "LFQ")
        with torch.autocast(z.device.type, enabled=False):
            zf = z.float()
            q = torch.where(zf > 0, 1.0, -1.0)
            indices = ((zf > 0).long() * self.powers.long()).sum(-1)
            per_sample, codebook = self.entropies(zf.reshape(-1, self.dim))
            aux = {
                "entropy": self.entropy_weight * (per_sample - self.diversity_gamma * codebook),
                "commitment": self.commitment_weight * F.mse_loss(zf, q),
            }
            return straight_through(zf, q).to(z.dtype), indices, aux
