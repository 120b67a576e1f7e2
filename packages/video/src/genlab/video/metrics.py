"""Per-frame PSNR/SSIM of a rollout against its ground truth, and the divergence horizon.

Diffusion Forcing (Chen et al. 2024, Sec. 4.1) claims rollouts far beyond the training length that
stay stable where teacher forcing and full-sequence diffusion diverge; with the procedural videos'
exact ground truth this becomes a number: the first frame after which PSNR stays below a threshold.
PSNR and SSIM are genlab.core.metrics' (data range 1) on frames mapped from [-1, 1] to [0, 1].
PSNR asks "is the rollout still on track"; the mass ratio asks the weaker "are the objects still
intact" (neither fading nor smearing over the frame), which holds even once a rollout has drifted.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.core.metrics import psnr, ssim
from genlab.core.tensors import check_finite


def _per_frame(metric: Callable, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if pred.shape != target.shape or pred.ndim not in (4, 5):
        raise ValueError(
            f"expected pred and target of one shape [T, C, H, W] or [B, T, C, H, W], "
            f"got {tuple(pred.shape)}, {tuple(target.shape)}"
        )
    check_finite(pred, "pred")
    check_finite(target, "target")
    if pred.ndim == 4:
        pred, target = pred[None], target[None]
    pred, target = (pred.clamp(-1, 1) + 1) / 2, (target.clamp(-1, 1) + 1) / 2
    return torch.tensor([metric(pred[:, t], target[:, t]) for t in range(pred.shape[1])])


def per_frame_psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of each frame, [T]; a batch [B, T, ...] pools the squared error over B (inf if exact)."""
    return _per_frame(psnr, pred, target)


def per_frame_ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SSIM of each frame, [T]; a batch [B, T, ...] averages over B."""
    return _per_frame(ssim, pred, target)


def per_frame_mass_ratio(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each frame's total brightness (frames mapped to [0, 1], pooled over a batch) over the target's, [T]:
    1 when the objects keep their size and brightness, > 1 when a rollout smears, < 1 when it fades."""
    return _per_frame(lambda p, q: float(p.sum() / q.sum().clamp_min(1e-12)), pred, target)


def divergence_horizon(curve: torch.Tensor, threshold: float) -> int:
    """The first frame from which ``curve`` stays below ``threshold`` to the end; len(curve) if never.

    A short dip that recovers does not count: the horizon is where the rollout is lost for good.
    """
    curve = torch.as_tensor(curve)
    if curve.ndim != 1 or len(curve) == 0:
        raise ValueError(f"curve must be 1-D with one value per frame, got shape {tuple(curve.shape)}")
    if torch.isnan(curve).any():
        raise ValueError("curve holds NaN")
    above = torch.nonzero(curve >= threshold)
    return 0 if len(above) == 0 else int(above[-1]) + 1
