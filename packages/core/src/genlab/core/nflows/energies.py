"""The four 2D test energies of Rezende & Mohamed 2015 (Table 1), p(z) proportional to exp(-U(z)).

    w1(z) = sin(2 pi z1 / 4),  w2(z) = 3 exp(-((z1 - 1) / 0.6)^2 / 2),  w3(z) = 3 sigmoid((z1 - 1) / 0.3)
    U1(z) = ((|z| - 2) / 0.4)^2 / 2 - ln(exp(-((z1 - 2) / 0.6)^2 / 2) + exp(-((z1 + 2) / 0.6)^2 / 2))
    U2(z) = ((z2 - w1) / 0.4)^2 / 2
    U3(z) = -ln(exp(-((z2 - w1) / 0.35)^2 / 2) + exp(-((z2 - w1 + w2) / 0.35)^2 / 2))
    U4(z) = -ln(exp(-((z2 - w1) / 0.4)^2 / 2) + exp(-((z2 - w1 + w3) / 0.35)^2 / 2))

U2-U4 do not depend on how far z1 goes, so exp(-U) is not integrable on R^2 and reverse KL against
it has no minimum.  The paper shows them on [-4, 4]^2; ``log_target(name)`` therefore adds a
quadratic wall outside the box |z_i| <= ``bound`` (zero inside it; ``bound=None`` gives the raw -U).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genlab.core.lookup import lookup


def _gauss(a: torch.Tensor, s: float) -> torch.Tensor:
    """The exponent -((a / s)^2) / 2."""
    return -0.5 * (a / s) ** 2


def _split(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"the energies take 2D points of shape [B, 2], got {tuple(z.shape)}")
    z1, z2 = z.unbind(1)
    return z1, z2, torch.sin(2 * math.pi * z1 / 4)


def u1(z: torch.Tensor) -> torch.Tensor:
    z1, _, _ = _split(z)
    ring = -_gauss(z.norm(dim=1) - 2, 0.4)
    return ring - torch.logaddexp(_gauss(z1 - 2, 0.6), _gauss(z1 + 2, 0.6))


def u2(z: torch.Tensor) -> torch.Tensor:
    _, z2, w1 = _split(z)
    return -_gauss(z2 - w1, 0.4)


def u3(z: torch.Tensor) -> torch.Tensor:
    z1, z2, w1 = _split(z)
    w2 = 3 * torch.exp(_gauss(z1 - 1, 0.6))
    return -torch.logaddexp(_gauss(z2 - w1, 0.35), _gauss(z2 - w1 + w2, 0.35))


def u4(z: torch.Tensor) -> torch.Tensor:
    z1, z2, w1 = _split(z)
    w3 = 3 * torch.sigmoid((z1 - 1) / 0.3)
    return -torch.logaddexp(_gauss(z2 - w1, 0.4), _gauss(z2 - w1 + w3, 0.35))


ENERGIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"U1": u1, "U2": u2, "U3": u3, "U4": u4}


def log_target(
    name: str, bound: float | None = 4.0, wall: float = 0.1
) -> Callable[[torch.Tensor], torch.Tensor]:
    """z -> -U(z) - sum_i ((|z_i| - bound)_+ / wall)^2 / 2, the unnormalised log-density for reverse KL."""
    energy = lookup("energy", name, ENERGIES)

    def log_p(z: torch.Tensor) -> torch.Tensor:
        log_p = -energy(z)
        if bound is not None:
            log_p = log_p + _gauss((z.abs() - bound).clamp(min=0), wall).sum(1)
        return log_p

    return log_p
