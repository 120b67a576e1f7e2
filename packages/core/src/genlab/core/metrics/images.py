"""PSNR and SSIM (Wang et al. 2004) for images in [0, 1], through torchmetrics."""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure


def _check_images(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            f"expected two image batches [B, C, H, W] of one shape, got {tuple(pred.shape)}, {tuple(target.shape)}"
        )


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB over the batch (data range 1)."""
    _check_images(pred, target)
    return peak_signal_noise_ratio(pred.float(), target.float(), data_range=1.0).item()


def ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean structural similarity over the batch (Gaussian window; 7 px for tiny images)."""
    _check_images(pred, target)
    k = 11 if min(pred.shape[-2:]) >= 11 else 7 if min(pred.shape[-2:]) >= 7 else 3
    return structural_similarity_index_measure(
        pred.float(), target.float(), data_range=1.0, kernel_size=k
    ).item()
