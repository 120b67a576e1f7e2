"""Metrics that need no downloaded weights."""

from genlab.core.metrics.digits_classifier import class_accuracy, fd_digits
from genlab.core.metrics.distances import frechet_distance, mmd, sliced_wasserstein
from genlab.core.metrics.images import psnr, ssim
from genlab.core.metrics.likelihood import bits_per_dim, dequantize

__all__ = [
    "bits_per_dim",
    "class_accuracy",
    "dequantize",
    "fd_digits",
    "frechet_distance",
    "mmd",
    "psnr",
    "sliced_wasserstein",
    "ssim",
]
