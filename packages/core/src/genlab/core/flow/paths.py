"""Probability paths of flow matching as affine schedules x_t = alpha(t) x0 + sigma(t) x1.

A flow-matching path is the same object as a diffusion schedule (genlab.core.diffusion.schedules),
read with x1 as the source sample instead of Gaussian noise, so velocity, x0, eps and score convert
through ``genlab.core.diffusion.parameterization.convert`` on every path. Lipman et al. (2023) give
the conditional-OT path with sigma_min, Albergo and Vanden-Eijnden (2023) the trigonometric one;
VP and cosine are the diffusion schedules.
"""

from __future__ import annotations

import math

import torch

from genlab.core.diffusion.schedules import Cosine, LinearBeta, RectifiedFlow, Schedule
from genlab.core.lookup import lookup


class CondOT(Schedule):
    """alpha = 1 - t, sigma = sigma_min + (1 - sigma_min) t: Lipman's conditional OT path in genlab's direction."""

    def __init__(self, sigma_min: float = 1e-4):
        self.sigma_min = sigma_min

    def alpha_sigma(self, t):
        return 1 - t, self.sigma_min + (1 - self.sigma_min) * t

    def d_alpha_sigma(self, t):
        return -torch.ones_like(t), torch.full_like(t, 1 - self.sigma_min)


class Trigonometric(Schedule):
    """alpha = cos(pi t / 2), sigma = sin(pi t / 2): the trigonometric interpolant (variance preserving)."""

    family = None

    def alpha_sigma(self, t):
        return torch.cos(math.pi / 2 * t), torch.sin(math.pi / 2 * t)

    def d_alpha_sigma(self, t):
        return -math.pi / 2 * torch.sin(math.pi / 2 * t), math.pi / 2 * torch.cos(math.pi / 2 * t)


PATHS = {
    "linear": RectifiedFlow,
    "condot": CondOT,
    "trig": Trigonometric,
    "vp": LinearBeta,
    "cosine": Cosine,
}


def get_path(name: str | Schedule) -> Schedule:
    """A path by name (``PATHS``); any Schedule instance passes through."""
    return name if isinstance(name, Schedule) else lookup("flow-matching path", name, PATHS)()
