"""Mixture paths for discrete data: each token is clean with chance 1 - kappa(t), else source noise.

    p_t(x | x0) = (1 - kappa(t)) delta_{x0}(x) + kappa(t) pi(x)                     (per token)

pi is the source: a point mass on the mask token (absorbing; MDLM, Sahoo et al., 2024; mask id =
vocab size) or uniform over the vocabulary (Austin et al., 2021; Gat et al., 2024). These are the
mixture paths of discrete flow matching (Gat et al., 2024) written in genlab's time, t = 0 clean,
and t may be per sample [B] or per token [B, L].
"""

from __future__ import annotations

import torch

from genlab.core.discrete.schedules import CorruptionSchedule, get_corruption_schedule
from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims, check_time

SOURCES = ("mask", "uniform")


def pad_probs(x0_probs: torch.Tensor, num_states: int) -> torch.Tensor:
    """Zero-pad denoiser probabilities over the K data tokens to all ``num_states`` (mask last)."""
    return torch.nn.functional.pad(x0_probs, (0, num_states - x0_probs.shape[-1]))


def reweight(x0_probs: torch.Tensor, likelihood: torch.Tensor) -> torch.Tensor:
    """p(x0) / q(x_t | x0), zero where x_t is impossible from x0.

    Averaging the normalised posteriors q(x_s | x_t, x0) over x0 ~ p turns into one product with
    these weights: sum_x0 p(x0) q(x_s, x_t | x0) / q(x_t | x0). With the exact denoiser p(x0 | x_t)
    this is the exact reverse step q(x_s | x_t); D3PM's eq. (4) drops the division, which is the
    same for the absorbing path but not for the uniform or Gaussian one.
    """
    return torch.where(likelihood > 0, x0_probs / likelihood.clamp_min(torch.finfo(likelihood.dtype).tiny), 0)


class MixturePath:
    """The factorised mixture path with source ``mask`` or ``uniform`` and schedule kappa(t)."""

    def __init__(
        self, vocab_size: int, source: str = "mask", schedule: str | CorruptionSchedule = "linear", **kwargs
    ):
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
        self.source = lookup("discrete source", source, {s: s for s in SOURCES})
        self.vocab_size = vocab_size
        self.schedule = get_corruption_schedule(schedule, **kwargs)
        self.mask_id = vocab_size if source == "mask" else None
        self.num_states = vocab_size + (source == "mask")

    def source_probs(self, like: torch.Tensor) -> torch.Tensor:
        """pi over the ``num_states`` states, in ``like``'s dtype and device."""
        if self.mask_id is not None:
            return torch.nn.functional.one_hot(torch.tensor(self.mask_id), self.num_states).to(like)
        return like.new_full((self.num_states,), 1 / self.vocab_size)

    def prior_sample(self, shape: tuple[int, ...], device=None, generator=None) -> torch.Tensor:
        """x at t = 1: all masks, or uniform tokens."""
        if self.mask_id is not None:
            return torch.full(shape, self.mask_id, dtype=torch.long, device=device)
        return torch.randint(self.vocab_size, shape, device=device, generator=generator)

    def probs(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """q(x_t | x0) over all states, shape x0.shape + (num_states,)."""
        check_time(t, x0)
        kappa = append_dims(self.schedule.kappa(t), x0.ndim + 1)
        onehot = torch.nn.functional.one_hot(x0, self.num_states).to(kappa)
        return (1 - kappa) * onehot + kappa * self.source_probs(kappa)

    def sample(self, x0: torch.Tensor, t: torch.Tensor, generator=None) -> torch.Tensor:
        """Draw x_t ~ q(x_t | x0): each token is replaced by source noise with chance kappa(t)."""
        check_time(t, x0)
        if x0.min() < 0 or x0.max() >= self.vocab_size:
            raise ValueError(f"x0 holds tokens outside [0, {self.vocab_size})")
        kappa = append_dims(self.schedule.kappa(t), x0.ndim)
        noisy = torch.rand(x0.shape, device=x0.device, generator=generator) < kappa
        return torch.where(noisy, self.prior_sample(x0.shape, x0.device, generator), x0)

    def posterior(self, x_t: torch.Tensor, x0_probs: torch.Tensor, t: torch.Tensor, s: torch.Tensor):
        """p(x_s | x_t) = sum_x0 p(x0) q(x_s | x_t, x0) for s < t, with p = ``x0_probs`` the denoiser's guess.

        The forward step s -> t keeps a token with chance a = (1 - kappa_t) / (1 - kappa_s), else
        draws it from pi, so by Bayes' rule
            q(x_s = y | x_t, x0) ∝ [a delta(y, x_t) + (1 - a) pi(x_t)] [(1 - kappa_s) delta(y, x0) + kappa_s pi(y)].
        For the mask source this is MDLM's reverse step: masks stay with chance kappa_s / kappa_t.
        """
        check_time(t, x_t)
        p = pad_probs(x0_probs, self.num_states)
        kt = append_dims(self.schedule.kappa(t).to(p), p.ndim)
        ks = append_dims(self.schedule.kappa(s).to(p), p.ndim)
        a = (1 - kt) / (1 - ks)
        pi = self.source_probs(p)
        onehot = torch.nn.functional.one_hot(x_t, self.num_states).to(p)
        weights = reweight(p, (1 - kt) * onehot + kt * pi[x_t][..., None])  # p(x0) / q(x_t | x0)
        likelihood = a * onehot + (1 - a) * pi[x_t][..., None]
        joint = likelihood * ((1 - ks) * weights + ks * pi * weights.sum(-1, keepdim=True))
        # a token resting (s = t) stays put; at s = t = 1, a = 0/0 and the formula above is NaN
        rest = append_dims(s == t, p.ndim).expand_as(onehot)
        return torch.where(rest, onehot, joint / joint.sum(-1, keepdim=True))


def masked_path(vocab_size: int, schedule: str | CorruptionSchedule = "linear", **kwargs) -> MixturePath:
    """The absorbing path of MDLM / D3PM-absorbing in continuous time; mask id = ``vocab_size``."""
    return MixturePath(vocab_size, "mask", schedule, **kwargs)


def uniform_path(vocab_size: int, schedule: str | CorruptionSchedule = "linear", **kwargs) -> MixturePath:
    """The uniform-noise path: a corrupted token is uniform over the vocabulary."""
    return MixturePath(vocab_size, "uniform", schedule, **kwargs)
