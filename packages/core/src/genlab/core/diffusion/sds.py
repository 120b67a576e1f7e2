"""Score distillation sampling (Poole et al. 2023, DreamFusion, eq. 3).

For any differentiable generator output x = g(theta) (a rendering, a trajectory, a molecule), the
SDS gradient is w(t) (eps_hat(x_t, t) - eps) with x_t = alpha_t x + sigma_t eps: the diffusion loss's
gradient without the denoiser's Jacobian. ``sds_loss`` is the surrogate 0.5 ||x - sg(x - grad)||^2,
whose gradient with respect to x is exactly ``grad``, so autograd carries it into theta.
Classifier-free guidance (DreamFusion uses a large scale, w = 100) wraps the denoiser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from genlab.core.diffusion.guidance import ClassifierFreeGuidance
from genlab.core.diffusion.parameterization import Denoiser
from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims, check_finite, check_time

SDS_WEIGHTINGS: dict[str, Callable] = {
    "sigma2": lambda a, s: s**2,  # DreamFusion's choice
    "uniform": lambda a, s: torch.ones_like(s),
}


def sds_grad(
    denoiser: Denoiser,
    x: torch.Tensor,
    t: torch.Tensor,
    *,
    cond: dict | None = None,
    weighting: str | Callable = "sigma2",
    guidance_scale: float = 0.0,
    null: Mapping[str, Any] | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """w(t) (eps_hat - eps), detached, shaped like x. ``guidance_scale`` w > 0 applies
    classifier-free guidance with the conditions in ``null`` (w = 0: the conditional model)."""
    check_time(t, x)
    check_finite(x, "x")
    if guidance_scale:
        denoiser = ClassifierFreeGuidance(denoiser, guidance_scale, null or {})
    w_fn = weighting if callable(weighting) else lookup("SDS weighting", weighting, SDS_WEIGHTINGS)
    eps = (
        torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device) if noise is None else noise
    )
    with torch.no_grad():
        x_t = denoiser.schedule.add_noise(x.detach(), eps, t)
        eps_hat = denoiser.eps(x_t, t, **(cond or {}))
        w = w_fn(*denoiser.schedule.alpha_sigma(t))
    return append_dims(w, x.ndim) * (eps_hat - eps)


def sds_loss(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """0.5 ||x - sg(x - grad)||^2 summed: d/dx = grad."""
    return 0.5 * (x - (x - grad).detach()).square().sum()
