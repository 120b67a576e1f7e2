"""Corruption schedules kappa(t) for discrete paths: the chance that a token is noise at time t.

genlab's time is the noise level, so kappa(0) = 0 (clean) and kappa(1) = 1 (fully masked or
uniform). Papers that run time the other way are converted here, once:

- MDLM (Sahoo et al., 2024) writes alpha_t = 1 - kappa(t); its log-linear schedule is kappa = t.
- Discrete flow matching (Gat et al., 2024) puts data at s = 1 with weight kappa^Gat_s on data;
  with s = 1 - t, kappa(t) = 1 - kappa^Gat(1 - t), so its polynomial kappa^Gat_s = s^n becomes
  kappa(t) = 1 - (1 - t)^n.
- MaskGIT (Chang et al., 2022) masks a fraction gamma(r) = cos(pi r / 2) after progress r; with
  r = 1 - t, kappa(t) = cos(pi (1 - t) / 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genlab.core.lookup import lookup


class CorruptionSchedule:
    """kappa(t) and its derivative d kappa / dt, both elementwise on a tensor t."""

    def kappa(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_kappa(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def rate(self, t: torch.Tensor) -> torch.Tensor:
        """kappa'(t) / kappa(t): the ELBO weight of MDLM and the jump rate of the CTMC (Gat et al.)."""
        return self.d_kappa(t) / self.kappa(t)


@dataclass(frozen=True)
class PolynomialCorruption(CorruptionSchedule):
    """kappa(t) = 1 - (1 - t)^n (Gat et al.'s polynomial scheduler); n = 1 is MDLM's log-linear."""

    n: float = 1.0

    def __post_init__(self):
        if self.n <= 0:
            raise ValueError(f"polynomial schedule needs n > 0, got {self.n}")

    def kappa(self, t):
        return 1 - (1 - t) ** self.n

    def d_kappa(self, t):
        return self.n * (1 - t) ** (self.n - 1)


@dataclass(frozen=True)
class CosineCorruption(CorruptionSchedule):
    """kappa(t) = cos(pi (1 - t) / 2) = sin(pi t / 2): MaskGIT's cosine mask ratio in noise-level
    time, written with sin so that kappa(0) is exactly 0 in floating point."""

    def kappa(self, t):
        return torch.sin(math.pi / 2 * t)

    def d_kappa(self, t):
        return math.pi / 2 * torch.cos(math.pi / 2 * t).clamp_min(0)


CORRUPTION_SCHEDULES = {
    "linear": lambda: PolynomialCorruption(1.0),
    "polynomial": PolynomialCorruption,
    "cosine": CosineCorruption,
}


def get_corruption_schedule(schedule: str | CorruptionSchedule, **kwargs) -> CorruptionSchedule:
    """A CorruptionSchedule by name (``linear``, ``polynomial`` with ``n``, ``cosine``), or the schedule given."""
    if isinstance(schedule, CorruptionSchedule):
        return schedule
    return lookup("discrete schedule", schedule, CORRUPTION_SCHEDULES)(**kwargs)
