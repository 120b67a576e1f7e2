"""Diffuser's value guidance (Janner et al., ICML 2022, Sec. 3.2): plan for a reward that was never a condition.

A value network J(tau_t, t) is trained on noised trajectories to predict the return of the clean one,

    min E_{t, eps} || J(alpha(t) tau + sigma(t) eps, t) - R(tau) ||^2,    R(tau) = sum_k gamma^k r(s_k),

and sampling follows the perturbed reverse process p(tau) exp(J(tau)): ``scale * grad J`` is added to the score
at every step (the core ``GradientGuidance`` at x_t), except for t < ``t_stop`` where the gradient is cut
(Diffuser's ``t_stopgrad``). The samples are then ranked by J at t = 0. The reward here: 1 at every step within
``radius`` of any of several target positions, 0 elsewhere, so the plan may reach whichever target it likes.
The start is inpainted in training inputs as in sampling.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from genlab.robotics.diffuser import Diffuser, Guide

Rank = Callable[[torch.Tensor], torch.Tensor]  # normalised plans [B, H, D] -> score [B], higher is better


def reach_any_reward(positions, targets, radius: float) -> np.ndarray:
    """1.0 where a position [..., 2] lies within ``radius`` of any of ``targets`` [K, 2], else 0.0."""
    p, g = np.asarray(positions, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if p.shape[-1:] != (2,) or g.ndim != 2 or g.shape[1] != 2 or len(g) == 0:
        raise ValueError(f"need positions [..., 2] and targets [K, 2], got {p.shape} and {g.shape}")
    dist = np.linalg.norm(p[..., None, :] - g, axis=-1)
    return (dist <= radius).any(axis=-1).astype(np.float64)


def window_returns(rewards: np.ndarray, horizon: int, discount: float) -> np.ndarray:
    """R of every window of the stream: ``sum_k discount^k rewards[s + k]`` for s = 0 .. N - horizon."""
    if rewards.ndim != 1 or len(rewards) < horizon:
        raise ValueError(f"need a reward stream [N >= {horizon}], got shape {rewards.shape}")
    weights = discount ** np.arange(horizon)
    return np.correlate(rewards, weights, mode="valid")


def value_loss(
    value: nn.Module, diffuser: Diffuser, x0: torch.Tensor, returns: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """MSE of ``value(x_t, t)`` against the clean windows' returns, x_t noised at t ~ U(0, 1), start inpainted."""
    t = torch.rand(len(x0), dtype=x0.dtype, device=x0.device)
    x_t = diffuser.schedule.add_noise(x0, torch.randn_like(x0), t)
    x_t = diffuser.constraint(x0[:, 0, diffuser.act_dim :], None, x0.shape[1]).apply(
        x_t, t, diffuser.schedule
    )
    loss = (value(x_t, t) - returns).pow(2).mean()
    return loss, {"loss": float(loss.detach())}


def value_guide(value: nn.Module, t_stop: float = 0.1) -> Guide:
    """``J(x_t, t)`` as the guide of ``Diffuser.sample``, its gradient cut where t < ``t_stop``."""

    def guide(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return value(x, t) * (t >= t_stop).to(x)

    return guide


def value_rank(value: nn.Module) -> Rank:
    """J(tau, 0) of clean plans, Diffuser's key for sorting its samples."""

    def rank(plans: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return value(plans, plans.new_zeros(len(plans)))

    return rank
