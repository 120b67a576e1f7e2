"""Samplers: pure functions of (denoiser, x_init, grid, options), in the style of k-diffusion.

The grid has shape (K+1, *t_shape) and runs from noise (t = 1) to data (t = 0); row k is every
element's time at step k, so a per-frame scheduling matrix (Diffusion Forcing) passes straight
through and elements whose t does not change in a step are left untouched. A ``Constraint`` is
re-imposed after every step; ``noise_fn`` draws every stochastic term.

- DDIM with eta (Song et al. 2021, eq. 12) in the general affine form
  x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z,  c = eta sigma_s sqrt(1 - SNR_t / SNR_s);
  eta = 1 is DDPM's ancestral step (Ho et al. 2020), the posterior q(x_s | x_t, x0).
- Euler and Heun on the probability-flow ODE dx/dt = alpha' x0 + sigma' eps, Heun with EDM's churn
  (Karras et al. 2022, Algorithm 2; noise raised in sigma / alpha, whatever the schedule).
- DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2), in the half-logSNR l = log(alpha / sigma), with
  each element's own history.
- Adaptive (dopri5 via torchdiffeq), for a grid shared by all elements.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genlab.core.diffusion.constraints import Constraint
from genlab.core.diffusion.noise import NoiseFn, gaussian
from genlab.core.diffusion.parameterization import Denoiser
from genlab.core.diffusion.schedules import Schedule
from genlab.core.ode import integrate_adaptive
from genlab.core.tensors import append_dims, check_finite, check_time

Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def check_grid(grid: torch.Tensor, x: torch.Tensor) -> None:
    """Raise a ValueError unless grid is (K+1, *t_shape), finite, in [0, 1] and non-increasing."""
    if grid.ndim < 1 or grid.shape[0] < 2:
        raise ValueError(f"grid must have shape (K+1, *t_shape) with K >= 1, got {tuple(grid.shape)}")
    check_time(grid[0], x)
    check_finite(grid, "grid")
    if (grid < 0).any() or (grid > 1).any():
        raise ValueError("grid times must lie in [0, 1]")
    if (grid[1:] > grid[:-1]).any():
        raise ValueError("grid must not increase: time runs from noise (t = 1) to data (t = 0)")


def sample_loop(
    step: Step,
    schedule: Schedule,
    x: torch.Tensor,
    grid: torch.Tensor,
    *,
    constraint: Constraint | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Run ``step(x, t, s) -> x_s`` along the grid, keeping elements whose time does not move."""
    check_finite(x, "x_init")
    grid = grid.to(x)
    check_grid(grid, x)
    noise_fn = noise_fn or gaussian
    if constraint is not None:
        x = constraint.apply(x, grid[0], schedule, noise_fn, generator)
    for t, s in zip(grid[:-1], grid[1:]):
        moving = s != t
        if moving.any():
            x = torch.where(append_dims(moving, x.ndim), step(x, t, s), x)
        if constraint is not None:
            x = constraint.apply(x, s, schedule, noise_fn, generator)
    return x


def ddim_step(
    denoiser: Denoiser,
    x: torch.Tensor,
    t: torch.Tensor,
    s: torch.Tensor,
    *,
    eta: float = 0.0,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> torch.Tensor:
    """One DDIM step from t to s < t; eta = 0 is deterministic, eta = 1 is DDPM's ancestral step."""
    x0, eps = denoiser.x0_eps(x, t, **(cond or {}))
    sch = denoiser.schedule
    a_s, s_s = (append_dims(c, x.ndim) for c in sch.alpha_sigma(s))
    if eta == 0:
        return a_s * x0 + s_s * eps
    c = eta * s_s * append_dims(torch.sqrt(-torch.expm1(sch.logsnr(t) - sch.logsnr(s))), x.ndim)
    z = (noise_fn or gaussian)(x, generator)
    return a_s * x0 + (s_s**2 - c**2).clamp_min(0).sqrt() * eps + c * z


def euler_step(
    denoiser: Denoiser, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor, *, cond: dict | None = None
):
    """x + (s - t) v(x, t) on the probability-flow ODE."""
    return x + append_dims(s - t, x.ndim) * denoiser.velocity(x, t, **(cond or {}))


def heun_step(
    denoiser: Denoiser, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor, *, cond: dict | None = None
):
    """Heun's trapezoid step; where s = 0 (where the velocity may be singular) it is an Euler step."""
    cond = cond or {}
    h = append_dims(s - t, x.ndim)
    d = denoiser.velocity(x, t, **cond)
    x_euler = torch.where(h == 0, x, x + h * d)  # resting elements may sit where v is singular
    last = s == 0
    if last.all():
        return x_euler
    d2 = denoiser.velocity(x_euler, torch.where(last, t, s), **cond)
    return torch.where(append_dims(last, x.ndim), x_euler, x + h * (d + d2) / 2)


def sample_ddim(
    denoiser: Denoiser,
    x: torch.Tensor,
    grid: torch.Tensor,
    *,
    eta: float = 0.0,
    constraint: Constraint | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> torch.Tensor:
    """DDIM(eta) along the grid (Song et al. 2021)."""

    def step(x, t, s):
        return ddim_step(denoiser, x, t, s, eta=eta, noise_fn=noise_fn, generator=generator, cond=cond)

    return sample_loop(
        step, denoiser.schedule, x, grid, constraint=constraint, noise_fn=noise_fn, generator=generator
    )


def sample_ancestral(denoiser: Denoiser, x: torch.Tensor, grid: torch.Tensor, **kwargs) -> torch.Tensor:
    """DDPM ancestral sampling (Ho et al. 2020): x_s drawn from q(x_s | x_t, x0_hat), i.e. DDIM(eta=1)."""
    return sample_ddim(denoiser, x, grid, eta=1.0, **kwargs)


def sample_euler(
    denoiser: Denoiser,
    x: torch.Tensor,
    grid: torch.Tensor,
    *,
    constraint: Constraint | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> torch.Tensor:
    """Euler's method on the probability-flow ODE (first order)."""

    def step(x, t, s):
        return euler_step(denoiser, x, t, s, cond=cond)

    return sample_loop(
        step, denoiser.schedule, x, grid, constraint=constraint, noise_fn=noise_fn, generator=generator
    )


def sample_heun(
    denoiser: Denoiser,
    x: torch.Tensor,
    grid: torch.Tensor,
    *,
    churn: float = 0.0,
    churn_range: tuple[float, float] = (0.0, 1.0),
    churn_noise: float = 1.0,
    constraint: Constraint | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> torch.Tensor:
    """EDM's sampler (Karras et al. 2022, Algorithm 2): Heun steps, second order when churn = 0.

    With churn > 0, elements with t in ``churn_range`` first move up to t_hat, where
    sigma/alpha grows by 1 + gamma, gamma = min(churn / K, sqrt(2) - 1), by adding fresh noise.
    """
    sch, steps = denoiser.schedule, grid.shape[0] - 1
    gamma = min(churn / steps, math.sqrt(2) - 1)
    noise = noise_fn or gaussian

    def step(x, t, s):
        if gamma > 0:
            g = torch.where((t >= churn_range[0]) & (t <= churn_range[1]) & (s < t), gamma, 0.0)
            t_hat = torch.maximum(sch.t_from_logsnr(sch.logsnr(t) - 2 * torch.log1p(g)), t)
            (a, sg), (a_hat, s_hat) = sch.alpha_sigma(t), sch.alpha_sigma(t_hat)
            ratio = torch.where(t_hat > t, a_hat / a, 1.0)
            extra = churn_noise * (s_hat**2 - (ratio * sg) ** 2).clamp_min(0).sqrt()
            x = append_dims(ratio, x.ndim) * x + append_dims(extra, x.ndim) * noise(x, generator)
            t = t_hat
        return heun_step(denoiser, x, t, s, cond=cond)

    return sample_loop(step, sch, x, grid, constraint=constraint, noise_fn=noise_fn, generator=generator)


def sample_dpmpp_2m(
    denoiser: Denoiser,
    x: torch.Tensor,
    grid: torch.Tensor,
    *,
    constraint: Constraint | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022): x_s = (sigma_s / sigma_t) x - alpha_s (e^-h - 1) D with
    h = l_s - l_t and D = (1 + 1/(2r)) x0_t - 1/(2r) x0_prev, r = h_prev / h. First order on an
    element's first step and on steps that end at t = 0."""
    sch = denoiser.schedule
    history: dict[str, torch.Tensor] = {}

    def step(x, t, s):
        x0 = denoiser.x0(x, t, **(cond or {}))
        l_t, l_s = sch.logsnr(t) / 2, sch.logsnr(s) / 2
        h = l_s - l_t
        d = x0
        if history:
            r = (l_t - history["l"]) / h
            second = torch.isfinite(history["l"]) & (s > 0) & (r > 0)
            d = torch.where(
                append_dims(second, x.ndim), x0 + (x0 - history["x0"]) / append_dims(2 * r, x.ndim), x0
            )
        moving = s != t
        history["x0"] = torch.where(append_dims(moving, x.ndim), x0, history.get("x0", x0))
        history["l"] = torch.where(moving, l_t, history.get("l", torch.full_like(l_t, math.nan)))
        (_, sig_t), (a_s, sig_s) = sch.alpha_sigma(t), sch.alpha_sigma(s)
        ratio, gain = append_dims(sig_s / sig_t, x.ndim), append_dims(-a_s * torch.expm1(-h), x.ndim)
        return ratio * x + gain * d

    return sample_loop(step, sch, x, grid, constraint=constraint, noise_fn=noise_fn, generator=generator)


def sample_adaptive(
    denoiser: Denoiser,
    x: torch.Tensor,
    grid: torch.Tensor,
    *,
    t_min: float = 1e-3,
    method: str = "dopri5",
    atol: float = 1e-5,
    rtol: float = 1e-5,
    constraint: Constraint | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> torch.Tensor:
    """The probability-flow ODE with an adaptive solver (torchdiffeq) between the grid's rows.

    Every row must hold one time for all elements. Times are floored at ``t_min``, where the
    velocity is still regular; a grid that ends at 0 ends with x0_hat(x, t_min) (the final
    denoising step of Song et al. 2021). The constraint is imposed at the grid's rows.
    """
    rows = grid.reshape(grid.shape[0], -1)
    if (rows != rows[:, :1]).any():
        raise ValueError("sample_adaptive needs a grid whose rows each hold a single time")
    cond, t_ndim = cond or {}, grid.ndim - 1

    def velocity(y, t):
        return denoiser.velocity(y, t, **cond)

    def step(x, t, s):
        t0, t1 = (max(float(v.flatten()[0]), t_min) for v in (t, s))
        if t1 < t0:
            x = integrate_adaptive(velocity, x, t0, t1, method=method, atol=atol, rtol=rtol, t_ndim=t_ndim)
        if float(s.flatten()[0]) == 0:
            x = denoiser.x0(x, torch.full_like(s, t1), **cond)
        return x

    return sample_loop(
        step, denoiser.schedule, x, grid, constraint=constraint, noise_fn=noise_fn, generator=generator
    )


def sample_prior(
    schedule: Schedule,
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """x_1 = sigma(1) eps, the start of sampling (exact when alpha(1) = 0, nearly so otherwise)."""
    _, sigma = schedule.alpha_sigma(torch.ones((), dtype=dtype, device=device))
    return sigma * torch.randn(shape, generator=generator, dtype=dtype, device=device)


def _finish(t: torch.Tensor, t_shape: tuple[int, ...]) -> torch.Tensor:
    """Append t = 0 and broadcast the 1-D grid to (K+1, *t_shape)."""
    g = torch.cat([t, t.new_zeros(1)])
    return append_dims(g, 1 + len(t_shape)).expand(g.shape[0], *t_shape).contiguous()


def logsnr_grid(
    schedule: Schedule,
    steps: int,
    t_shape: tuple[int, ...] = (),
    t_min: float = 1e-3,
    t_max: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``steps`` points uniform in logSNR from t_max to t_min, then t = 0 (k-diffusion's exponential)."""
    ends = schedule.logsnr(torch.tensor([t_max, t_min], dtype=torch.float64))
    if not torch.isfinite(ends).all():
        raise ValueError(f"logSNR is infinite at t_max={t_max} or t_min={t_min}; move them inside (0, 1)")
    lam = torch.linspace(float(ends[0]), float(ends[1]), steps, dtype=torch.float64)
    t = schedule.t_from_logsnr(lam)
    t[0] = t_max
    return _finish(t.to(dtype), t_shape)


def karras_grid(
    schedule: Schedule,
    steps: int,
    t_shape: tuple[int, ...] = (),
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Karras et al. (2022) eq. 5: ``steps`` values of sigma/alpha spaced uniformly in s^(1/rho) from
    sigma_max to sigma_min, mapped to t through the schedule (clamped to [0, 1]), then t = 0."""
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    s = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return _finish(schedule.t_from_logsnr(-2 * s.log()).to(dtype), t_shape)
