"""Noise schedules across resolutions: what average pooling and input scaling do to the logSNR.

Hoogeboom, Heek and Salimans, "simple diffusion" (ICML 2023), section 3.1: if x_t = alpha x + sigma eps
at resolution s d, average pooling by s gives pool(x_t) = alpha pool(x) + sigma pool(eps), and
pool(eps) has variance 1 / s^2 per pixel, so the pooled image sits at logSNR lambda + 2 log s. A
schedule tuned at resolution d is therefore too clean at resolution s d; shifting it by
-2 log s (genlab.core.diffusion.schedules.resolution_shift) gives the high-resolution model, seen
through pooling, the noise levels of the low-resolution one.

Chen, "On the importance of noise scheduling for diffusion models" (2023): scaling the input by b,
x_t = alpha b x + sigma eps, multiplies the signal power by b^2, a logSNR shift of 2 log b
(genlab.core.diffusion.schedules.input_scaling).

Here these shifts are measured on images rather than assumed: the logSNR of a noisy image is
estimated from the noise that is actually in it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genlab.core.diffusion.schedules import Schedule
from genlab.core.tensors import append_dims


def pool(x: torch.Tensor, s: int) -> torch.Tensor:
    """Average pooling by s over the last two axes of [..., H, W] (H, W divisible by s)."""
    if s < 1 or x.shape[-1] % s or x.shape[-2] % s:
        raise ValueError(f"cannot pool images of shape {tuple(x.shape[-2:])} by {s}")
    lead = x.shape[:-2]
    return F.avg_pool2d(x.reshape(-1, 1, *x.shape[-2:]), s).reshape(*lead, x.shape[-2] // s, x.shape[-1] // s)


def noise_logsnr(clean: torch.Tensor, noisy: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """log(alpha^2 / sigma_hat^2), sigma_hat^2 the per-pixel power of the noise noisy - alpha clean, per image
    (the leading axis; alpha of shape [B]). For x_t = alpha x + sigma eps this estimates lambda(t)."""
    resid = (noisy - append_dims(alpha, noisy.ndim) * clean).flatten(1)
    return 2 * alpha.log() - resid.square().mean(1).log()


def image_logsnr(clean: torch.Tensor, noisy: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """log(||alpha clean||^2 / ||noisy - alpha clean||^2) per image: the signal-to-noise power ratio,
    lambda plus the log power of the image itself."""
    signal = (append_dims(alpha, clean.ndim) * clean).flatten(1).square().mean(1)
    return signal.log() - (noisy - append_dims(alpha, noisy.ndim) * clean).flatten(1).square().mean(1).log()


def noised(
    images: torch.Tensor, t: torch.Tensor, schedule: Schedule, scale: float = 1.0, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, alpha b) with x_t = alpha(t) b x + sigma(t) eps for images [B, ...] and t [B]: input scaling by
    b = ``scale`` (Chen 2023); the renormalisation to unit variance would not change any SNR."""
    alpha, sigma = schedule.alpha_sigma(t)
    eps = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    signal = alpha * scale
    return append_dims(signal, images.ndim) * images + append_dims(sigma, images.ndim) * eps, signal


def pooling_shift(
    images: torch.Tensor, t: torch.Tensor, schedule: Schedule, s: int, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Measured logSNR shift of pooling by s, per (t, image): [T, B] for the noise logSNR and for the
    image logSNR, (pooled) - (full resolution) on the same noisy draw. Theory: 2 log s."""
    noise, image = [], []
    for tt in t:
        x_t, a = noised(images, tt.expand(len(images)), schedule, generator=generator)
        px, pxt = pool(images, s), pool(x_t, s)
        noise.append(noise_logsnr(px, pxt, a) - noise_logsnr(images, x_t, a))
        image.append(image_logsnr(px, pxt, a) - image_logsnr(images, x_t, a))
    return torch.stack(noise), torch.stack(image)


def scaling_shift(
    images: torch.Tensor, t: torch.Tensor, schedule: Schedule, b: float, generator=None
) -> torch.Tensor:
    """Measured logSNR shift of scaling the input by b, per (t, image) [T, B]: image logSNR of
    alpha b x + sigma eps minus that of alpha x + sigma eps. Theory: 2 log b."""
    out = []
    for tt in t:
        tb = tt.expand(len(images))
        x_b, ab = noised(images, tb, schedule, b, generator)
        x_1, a1 = noised(images, tb, schedule, 1.0, generator)
        out.append(image_logsnr(images, x_b, ab) - image_logsnr(images, x_1, a1))
    return torch.stack(out)


def expected_shift(factor: float) -> float:
    """2 log(factor): the logSNR shift of pooling by s = factor or of input scaling by b = factor."""
    return 2 * math.log(factor)
