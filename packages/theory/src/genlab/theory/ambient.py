"""Ambient diffusion: a clean denoiser learned from noisy samples, and what a noisy sample is worth.

Daras, Cherapanamjeri, Daskalakis, "How Much Is A Noisy Image Worth? Data Scaling Laws for Ambient
Diffusion" (arXiv 2411.02780). A training sample y = x0 + sigma_n z carries its own noise level
sigma_n and is used only at levels sigma_t >= sigma_n, where x_t = y + sqrt(sigma_t^2 - sigma_n^2) eps
has exactly the law of x0 + sigma_t eps'. Because E[y | x_t] = (1 - r) E[x0 | x_t] + r x_t with
r = sigma_n^2 / sigma_t^2, regressing the prediction of y (their eq. 4)

    y_hat = (1 - r) h(x_t, sigma_t) + r x_t

on y, with EDM's weight, is minimised by the clean posterior mean h = E[x0 | x_t]: noisy data teach
the clean denoiser, but only above their own noise level. With sigma_n = 0 it is EDM's x0-prediction
denoising loss (Karras et al. 2022), so clean and noisy samples share one loss and one batch.

Measurements: the excess denoising risk of a learned denoiser against the exact mixture denoiser
(genlab.core.diffusion.MixtureDenoiser), and the price of a noisy sample in clean samples, read off
the measured curve of clean-only runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.diffusion import (
    EDM,
    Denoiser,
    EDMPrecond,
    loss_weight,
    sample_heun,
    sample_prior,
    sample_t,
)
from genlab.core.grids import karras_grid
from genlab.core.nn import TimeMLP
from genlab.core.run import train_stage
from genlab.core.tensors import append_dims, check_finite
from genlab.core.trainer import TrainConfig

P_MEAN, P_STD = -1.2, 1.2  # EDM's log-normal training distribution of sigma


def sigma_of(schedule: EDM, t: torch.Tensor) -> torch.Tensor:
    return schedule.alpha_sigma(t)[1]


def t_of(schedule: EDM, sigma: torch.Tensor) -> torch.Tensor:
    return schedule.t_from_logsnr(-2 * sigma.log())


def predict_y(
    h: torch.Tensor, x_t: torch.Tensor, sigma_t: torch.Tensor, sigma_n: torch.Tensor
) -> torch.Tensor:
    """Eq. (4): the x0-prediction h as a prediction of the noisy sample, (1 - r) h + r x_t, r = sigma_n^2 / sigma_t^2."""
    r = append_dims((sigma_n / sigma_t).square().clamp(max=1), x_t.ndim)
    return (1 - r) * h + r * x_t


def ambient_loss(
    model: nn.Module,
    y: torch.Tensor,
    sigma_n: torch.Tensor,
    *,
    schedule: EDM,
    sigma_data: float = 0.5,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The ambient denoising loss of an x0-predicting ``model(x_t, t)`` on samples y [B, ...] with
    noise levels sigma_n [B] (0 for clean samples).

    t defaults to EDM's log-normal draw; each sample's sigma_t is raised to at least its sigma_n (the
    reference code's clamp), where the loss vanishes. Returns (mean loss, logs).
    """
    check_finite(y, "y")
    if sigma_n.shape != y.shape[:1] or (sigma_n < 0).any():
        raise ValueError(f"sigma_n must hold one non-negative level per sample, shape {tuple(y.shape[:1])}")
    if t is None:
        t = sample_t(
            "log_normal",
            y.shape[:1],
            schedule=schedule,
            generator=generator,
            dtype=y.dtype,
            device=y.device,
            p_mean=P_MEAN,
            p_std=P_STD,
        )
    sigma_n = sigma_n.to(y)
    floor = torch.where(sigma_n > 0, t_of(schedule, sigma_n.clamp_min(1e-30)), torch.zeros_like(t))
    t = torch.maximum(t, floor)
    sigma_t = torch.maximum(sigma_of(schedule, t), sigma_n)
    eps = (
        torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device) if noise is None else noise
    )
    x_t = y + append_dims((sigma_t.square() - sigma_n.square()).clamp_min(0).sqrt(), y.ndim) * eps
    y_hat = predict_y(model(x_t, t), x_t, sigma_t, sigma_n)
    w = loss_weight("edm", t, schedule, "x0", sigma_data=sigma_data)  # (sigma^2 + sd^2) / (sigma sd)^2
    loss = (append_dims(w, y.ndim) * (y_hat - y) ** 2).mean()
    return loss, {"loss": float(loss.detach()), "noisy_fraction": float((sigma_n > 0).float().mean())}


def ambient_dataset(
    x0: torch.Tensor, n_clean: int, n_noisy: int, sigma_n: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n_clean samples of x0 kept clean, the next n_noisy noised once and for all with
    sigma_n (a fixed draw per sample, as a noisy photograph is); returns (y, sigma_n per sample)."""
    if n_clean < 0 or n_noisy < 0 or n_clean + n_noisy > len(x0) or n_clean + n_noisy == 0:
        raise ValueError(f"need 0 < n_clean + n_noisy <= {len(x0)}, got {n_clean} + {n_noisy}")
    if n_noisy and sigma_n <= 0:
        raise ValueError(f"noisy samples need sigma_n > 0, got {sigma_n}")
    clean, noisy = x0[:n_clean], x0[n_clean : n_clean + n_noisy]
    noisy = noisy + sigma_n * torch.randn(noisy.shape, generator=generator, dtype=noisy.dtype)
    levels = torch.cat([torch.zeros(n_clean), torch.full((n_noisy,), float(sigma_n))]).to(x0.dtype)
    return torch.cat([clean, noisy]), levels


def edm_mlp(dim: int, hidden: int, depth: int, sigma_data: float) -> EDMPrecond:
    """An x0-model ``model(x, t)``: a TimeMLP under EDM's preconditioning on the EDM (VE) schedule."""
    return EDMPrecond(TimeMLP(dim, hidden, depth), EDM(), sigma_data)


def train_ambient(model: EDMPrecond, y: torch.Tensor, sigma_n: torch.Tensor, cfg: TrainConfig) -> nn.Module:
    """Train ``model`` on samples y [N, ...] with the ambient loss (genlab's trainer, nothing written
    to disk); returns the EMA model. Small sets are repeated to fill one batch."""
    reps = math.ceil(cfg.batch_size / len(y))
    data = TensorDataset(y.repeat(reps, *[1] * (y.ndim - 1)), sigma_n.repeat(reps))

    def loss(m, batch):
        yb, sb = batch
        return ambient_loss(m, yb, sb, schedule=model.schedule, sigma_data=model.sigma_data)

    return train_stage("", model, loss, data, cfg, None).eval()


@torch.no_grad()
def sample_edm(model: EDMPrecond, shape: tuple[int, ...], steps: int = 32, seed: int = 0) -> torch.Tensor:
    """Samples of ``shape`` [n, ...] by EDM's Heun sampler on the Karras grid (Karras et al. 2022, Algorithm 1)."""
    gen = torch.Generator().manual_seed(seed)
    n = shape[0]
    x = sample_prior(model.schedule, shape, generator=gen)
    grid = karras_grid(steps, (n,), schedule=model.schedule)
    return sample_heun(Denoiser(model, model.schedule, "x0"), x, grid)


def lognormal_sigmas(m: int = 16) -> torch.Tensor:
    """m mid-quantiles of EDM's training distribution log sigma ~ N(P_mean, P_std^2)."""
    q = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    return torch.exp(P_MEAN + P_STD * math.sqrt(2) * torch.erfinv(2 * q - 1))


@torch.no_grad()
def denoiser_error(
    model: nn.Module, oracle: nn.Module, x0: torch.Tensor, sigmas: torch.Tensor, seed: int = 0
) -> torch.Tensor:
    """E ||h(x_t, sigma) - E[x0 | x_t]||^2 / D per sigma, with x_t = x0 + sigma eps and the exact
    posterior mean from ``oracle`` (a MixtureDenoiser on the same EDM schedule)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for s in sigmas.tolist():
        x_t = x0 + s * torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
        t = t_of(oracle.schedule, torch.full(x0.shape[:1], s, dtype=torch.float64)).to(x0.dtype)
        out.append((model(x_t, t).double() - oracle(x_t.double(), t.double())).square().mean())
    return torch.stack(out)


def excess_risk(errors: torch.Tensor, sigmas: torch.Tensor, sigma_data: float) -> float:
    """The EDM-weighted mean of per-sigma denoiser errors over ``lognormal_sigmas``: the clean EDM
    training loss minus its minimum, sum_sigma lambda(sigma) E||h - E[x0|x_t]||^2 / m."""
    w = (sigmas.square() + sigma_data**2) / (sigmas * sigma_data).square()
    return float((w * errors).mean())


def clean_equivalent(metric: float, n: Sequence[float], m: Sequence[float]) -> float:
    """How many clean samples score ``metric``, read off the measured clean-only curve (sizes ``n``
    increasing, metrics ``m``, lower is better): log n interpolated linearly in log m along the
    curve's running minimum (so that it is decreasing), and extended by its end segments' slopes."""
    n, m = np.asarray(n, dtype=np.float64), np.asarray(m, dtype=np.float64)
    if n.shape != m.shape or (np.diff(n) <= 0).any() or (m <= 0).any() or metric <= 0:
        raise ValueError(
            "need increasing sizes n, positive metrics m of the same length and a positive metric"
        )
    envelope = np.minimum.accumulate(m)
    keep = np.r_[True, envelope[1:] < envelope[:-1]]  # drop points that do not improve on a smaller n
    x, y = -np.log(envelope[keep]), np.log(n[keep])  # x increases along the curve
    if len(x) < 2:
        raise ValueError(f"the clean-only curve {m.tolist()} never improves with n: no sample price")
    q = -math.log(metric)
    i = int(np.clip(np.searchsorted(x, q) - 1, 0, len(x) - 2))  # the segment, or the end one
    return float(math.exp(y[i] + (q - x[i]) * (y[i + 1] - y[i]) / (x[i + 1] - x[i])))


def noisy_sample_value(
    metric: float, n_clean: int, n_noisy: int, n: Sequence[float], m: Sequence[float]
) -> float:
    """How many clean samples one noisy sample is worth: (n_equivalent - n_clean) / n_noisy, for a run
    of n_clean clean + n_noisy noisy samples scoring ``metric`` against the clean-only curve (n, m)."""
    return (clean_equivalent(metric, n, m) - n_clean) / n_noisy
