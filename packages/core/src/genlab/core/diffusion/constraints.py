"""Known values re-imposed after every sampler step (replacement conditioning).

``form='clean'`` writes the clean values themselves, as Diffuser does for a trajectory's start and
goal states (Janner et al. 2022, apply_conditioning). ``form='noised'`` writes the values noised to
the current level, alpha(t) x + sigma(t) eps, as in inpainting by replacement (Song et al. 2021,
Sec. 5; RePaint, Lugmayr et al. 2022) and for history frames in video models. At t = 0 both forms
give the values exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genlab.core.diffusion.noise import NoiseFn, gaussian
from genlab.core.diffusion.schedules import Schedule
from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims

FORMS = ("clean", "noised")


@dataclass
class Constraint:
    """values broadcastable to x; mask (bool, a prefix shape of x or x's shape) is True where known."""

    values: torch.Tensor
    mask: torch.Tensor
    form: str = "clean"

    def __post_init__(self):
        lookup("constraint form", self.form, dict.fromkeys(FORMS))
        self.mask = self.mask.bool()

    def apply(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        schedule: Schedule,
        noise_fn: NoiseFn = gaussian,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """x with the known entries replaced, at noise level t (a prefix shape of x)."""
        if self.mask.ndim > x.ndim or x.shape[: self.mask.ndim] != self.mask.shape:
            raise ValueError(
                f"constraint mask of shape {tuple(self.mask.shape)} does not fit x {tuple(x.shape)}"
            )
        values = self.values.to(x).expand_as(x)
        if self.form == "noised":
            a, s = schedule.alpha_sigma(t)
            values = append_dims(a, x.ndim) * values + append_dims(s, x.ndim) * noise_fn(x, generator)
        return torch.where(append_dims(self.mask, x.ndim), values, x)
