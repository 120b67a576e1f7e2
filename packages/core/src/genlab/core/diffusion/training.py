"""The denoising training loss, with pluggable noise-level samplers and weightings.

Kingma & Gao (2023) write every diffusion loss as E_t[w(t) ||eps_hat - eps||^2]: the sampler of t
and the weighting w are the only choices. Weightings are defined on the eps-loss and the loss is
computed on the model's own output, ||out - target||^2 * w / c^2, with c = d(kind)/d(eps) at fixed
x_t, so that no weighting ever divides by sigma. Weightings:
  uniform / eps   DDPM's L_simple (Ho et al. 2020)
  x0, v, score, velocity   the plain MSE in that kind (e.g. 'v' is Salimans & Ho's v-loss)
  min_snr         min(SNR, gamma) on the x0-loss (Hang et al. 2023)
  edm             (sigma^2 + sd^2) / (sigma sd)^2 on the x0-loss, sigma = sigma/alpha (Karras et al. 2022)
  sigmoid         sigmoid(bias - lambda) on the eps-loss (Kingma & Gao 2023; Hoogeboom et al. 2024)
Noise-level samplers: uniform, stratified (one t per stratum), logit-normal (Esser et al. 2024, SD3),
log-normal in sigma/alpha (EDM). t has any prefix shape of x: [B], or [B, T] for independent
per-frame / per-token levels (Diffusion Forcing, Chen et al. 2024).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.core.diffusion.noise import NoiseFn, gaussian
from genlab.core.diffusion.parameterization import KINDS, Denoiser, convert, from_x0_eps
from genlab.core.diffusion.schedules import Schedule
from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims, check_finite, check_time


def _uniform(shape, generator, schedule, **kw):
    return torch.rand(shape, generator=generator, **kw)


def _stratified(shape, generator, schedule, **kw):
    n = torch.Size(shape).numel()
    strata = torch.randperm(n, generator=generator, device=kw.get("device")).to(
        kw.get("dtype", torch.float32)
    )
    return ((strata + torch.rand(n, generator=generator, **kw)) / n).reshape(shape)


def _logit_normal(shape, generator, schedule, mean: float = 0.0, std: float = 1.0, **kw):
    return torch.sigmoid(mean + std * torch.randn(shape, generator=generator, **kw))


def _log_normal(shape, generator, schedule, p_mean: float = -1.2, p_std: float = 1.2, **kw):
    if schedule is None:
        raise ValueError("the log-normal t-sampler needs the schedule to map sigma to t")
    log_sigma = p_mean + p_std * torch.randn(shape, generator=generator, **kw)
    return schedule.t_from_logsnr(-2 * log_sigma)


T_SAMPLERS: dict[str, Callable] = {
    "uniform": _uniform,
    "stratified": _stratified,
    "logit_normal": _logit_normal,
    "log_normal": _log_normal,
}


def sample_t(
    name: str,
    shape: tuple[int, ...],
    *,
    schedule: Schedule | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    **options,
) -> torch.Tensor:
    """Noise levels of ``shape`` in [0, 1] from a named sampler (``T_SAMPLERS``)."""
    fn = lookup("t-sampler", name, T_SAMPLERS)
    return fn(tuple(shape), generator, schedule, dtype=dtype, device=device, **options)


def _min_snr(a, s, gamma: float = 5.0):
    snr = (a / s) ** 2
    return torch.clamp(gamma / snr, max=1.0)  # min(SNR, gamma) / SNR


def _edm(a, s, sigma_data: float = 0.5):
    return ((s / a) ** 2 + sigma_data**2) / sigma_data**2


def _sigmoid(a, s, bias: float = 0.0):
    return torch.sigmoid(bias - 2 * (a.log() - s.log()))


WEIGHTINGS: dict[str, Callable] = {
    "uniform": lambda a, s: torch.ones_like(a),
    "min_snr": _min_snr,
    "edm": _edm,
    "sigmoid": _sigmoid,
}


def _eps_gain(kind: str, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """c = d(prediction of kind)/d(eps) at fixed x_t, shape of t."""
    return convert(torch.ones_like(t), "eps", kind, torch.zeros_like(t), t, schedule)


def loss_weight(name: str, t: torch.Tensor, schedule: Schedule, kind: str, **options) -> torch.Tensor:
    """The factor on ||out - target||^2 in ``kind`` that makes the loss ``name``'s eps-weighting."""
    if name == kind:
        return torch.ones_like(t)
    gain = _eps_gain(kind, t, schedule) ** 2
    if name in KINDS:
        return _eps_gain(name, t, schedule) ** 2 / gain
    return lookup("loss weighting", name, WEIGHTINGS)(*schedule.alpha_sigma(t), **options) / gain


def diffusion_loss(
    denoiser: Denoiser,
    x0: torch.Tensor,
    *,
    t: torch.Tensor | None = None,
    t_shape: tuple[int, ...] | None = None,
    t_sampler: str = "uniform",
    t_options: dict | None = None,
    weighting: str | None = None,
    weighting_options: dict | None = None,
    noise: torch.Tensor | None = None,
    noise_fn: NoiseFn | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Denoising loss of ``denoiser`` on clean data x0; returns (loss, logs).

    t defaults to a draw of shape ``t_shape`` (default [B]) from ``t_sampler``; noise to
    ``noise_fn(x0, generator)``. ``mask`` (bool or 0/1, a prefix shape of x0 or x0's shape) selects
    the elements that count. reduction 'mean' gives a scalar, 'none' one value per element of t.
    ``weighting`` defaults to the plain MSE in the denoiser's own kind.
    """
    check_finite(x0, "x0")
    sch = denoiser.schedule
    if t is None:
        t = sample_t(
            t_sampler,
            t_shape or x0.shape[:1],
            schedule=sch,
            generator=generator,
            dtype=x0.dtype,
            device=x0.device,
            **(t_options or {}),
        )
    check_time(t, x0)
    eps = (noise_fn or gaussian)(x0, generator) if noise is None else noise
    if eps.shape != x0.shape:
        raise ValueError(f"noise of shape {tuple(eps.shape)} does not match x0 of shape {tuple(x0.shape)}")
    x_t = sch.add_noise(x0, eps, t)
    out = denoiser.raw(x_t, t, **(cond or {}))
    target = from_x0_eps(x0, eps, denoiser.kind, x_t, t, sch)
    w = loss_weight(weighting or denoiser.kind, t, sch, denoiser.kind, **(weighting_options or {}))
    err = append_dims(w, x0.ndim) * (out - target) ** 2
    m = torch.ones_like(err) if mask is None else append_dims(mask.to(err), x0.ndim).expand_as(err)
    dims = tuple(range(t.ndim, x0.ndim))
    lookup("reduction", reduction, dict.fromkeys(("mean", "none")))
    if reduction == "none":
        loss = (err * m).sum(dims) / m.sum(dims).clamp_min(1)
    else:
        loss = (err * m).sum() / m.sum().clamp_min(1)
    logs = {"loss": float(loss.detach().mean()), "t_mean": float(t.mean()), "weight_mean": float(w.mean())}
    return loss, logs


def drop_condition(
    c: torch.Tensor, p: float, null: torch.Tensor | float | int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Replace each sample's condition by ``null`` with probability p (Ho & Salimans 2021, Algorithm 1)."""
    drop = torch.rand(c.shape[0], generator=generator, device=c.device) < p
    return torch.where(append_dims(drop, c.ndim), torch.as_tensor(null, dtype=c.dtype, device=c.device), c)
