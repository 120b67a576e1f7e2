"""GAN objectives as plain functions of discriminator logits; every loss is minimised.

- Non-saturating (Goodfellow et al. 2014): D: softplus(-D(x)) + softplus(D(G(z))); G: softplus(-D(G(z))).
- Hinge (Lim & Ye 2017; StyleGAN-T, Sauer et al. 2023): D: relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z)).
- Relativistic pairing, RpGAN (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024, eq. 2): each real is
  paired with a fake, D: softplus(-(D(x) - D(G(z)))), G: softplus(-(D(G(z)) - D(x))), the same with roles swapped.
- R1 / R2 (Mescheder et al. 2018; R3GAN eq. 3-4): gamma / 2 * E ||grad_x D(x)||^2 on real (R1) or
  fake (R2) inputs, by autograd with create_graph so the penalty trains D.
- Matching-aware loss (GigaGAN, Kang et al. 2023, section 3.4): a real image paired with a wrong
  condition is one more fake for the conditional discriminator, as is a fake with a wrong condition.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from genlab.core.lookup import lookup
from genlab.core.tensors import check_finite

# D's per-logit loss on inputs it should call real, and on inputs it should call fake.
_REAL: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "nonsaturating": lambda logits: F.softplus(-logits),
    "hinge": lambda logits: F.relu(1 - logits),
}
_FAKE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "nonsaturating": F.softplus,
    "hinge": lambda logits: F.relu(1 + logits),
}


def _pair(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
    if real_logits.shape != fake_logits.shape:
        raise ValueError(
            f"RpGAN pairs each real with a fake: logits must share a shape, got {tuple(real_logits.shape)} "
            f"and {tuple(fake_logits.shape)}"
        )
    check_finite(real_logits, "real_logits")
    check_finite(fake_logits, "fake_logits")


def nonsaturating_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return _REAL["nonsaturating"](real_logits).mean() + _FAKE["nonsaturating"](fake_logits).mean()


def nonsaturating_g(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def hinge_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return _REAL["hinge"](real_logits).mean() + _FAKE["hinge"](fake_logits).mean()


def hinge_g(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    return -fake_logits.mean()


def rpgan_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    _pair(real_logits, fake_logits)
    return F.softplus(-(real_logits - fake_logits)).mean()


def rpgan_g(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    if real_logits is None:
        raise ValueError("the RpGAN generator loss needs the logits of the paired real batch")
    return rpgan_d(fake_logits, real_logits)


LOSSES = {
    "nonsaturating": (nonsaturating_d, nonsaturating_g),
    "hinge": (hinge_d, hinge_g),
    "rpgan": (rpgan_d, rpgan_g),
}


def discriminator_loss(name: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's loss for ``name`` in nonsaturating | hinge | rpgan."""
    return lookup("GAN loss", name, LOSSES)[0](real_logits, fake_logits)


def generator_loss(
    name: str, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
) -> torch.Tensor:
    """G's loss for ``name``; ``rpgan`` also needs the paired real logits."""
    return lookup("GAN loss", name, LOSSES)[1](fake_logits, real_logits)


def _gradient_penalty(inputs: torch.Tensor, logits: torch.Tensor, gamma: float) -> torch.Tensor:
    if not inputs.requires_grad:
        raise ValueError("the gradient penalty needs inputs with requires_grad=True before they enter D")
    (grad,) = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    return gamma / 2 * grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()


def r1_penalty(real: torch.Tensor, real_logits: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """gamma / 2 * E_real ||grad_x D(x)||^2, with ``real_logits = D(real)`` and ``real.requires_grad``."""
    return _gradient_penalty(real, real_logits, gamma)


def r2_penalty(fake: torch.Tensor, fake_logits: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """gamma / 2 * E_fake ||grad_x D(x)||^2, with ``fake_logits = D(fake)`` and ``fake.requires_grad``."""
    return _gradient_penalty(fake, fake_logits, gamma)


def mismatch(condition: torch.Tensor) -> torch.Tensor:
    """Wrong conditions for a batch: each row gets the next row's condition (a roll by one)."""
    if condition.shape[0] < 2:
        raise ValueError("mismatching conditions needs a batch of at least 2")
    return condition.roll(1, 0)


def matching_aware_d(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    mismatched_logits: torch.Tensor,
    fake_mismatched_logits: torch.Tensor | None = None,
    kind: str = "nonsaturating",
) -> torch.Tensor:
    """D's loss where D(x, c_wrong) (and, if given, D(G(z, c), c_wrong)) count as fakes; kind: nonsaturating | hinge."""
    real_term, fake_term = lookup("matching-aware loss", kind, _REAL), _FAKE[kind]
    loss = real_term(real_logits).mean() + fake_term(fake_logits).mean() + fake_term(mismatched_logits).mean()
    if fake_mismatched_logits is not None:
        loss = loss + fake_term(fake_mismatched_logits).mean()
    return loss
