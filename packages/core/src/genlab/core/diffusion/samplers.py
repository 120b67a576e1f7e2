"""Samplers: pure functions of (denoiser, x_init, grid, options), in the style of k-diffusion.

The grid has shape (K+1, *t_shape) and runs from noise (t = 1) to data (t = 0) (see
``genlab.core.grids``; a 1-D grid is shared by the batch); row k is every element's time at step
k, so a per-frame scheduling matrix (Diffusion Forcing) passes straight through and elements whose
t does not change in a step are left untouched. A ``Constraint`` is re-imposed after every step;
``noise_fn`` draws every stochastic term; ``callback(k, t, x, x0_hat)`` sees every step (k-diffusion's
callback); conditioning goes in ``cond``, a dict handed to the model as keywords.

The fixed-step ODE samplers step in the variable in which the probability-flow ODE is nearly linear,
y = x / alpha against r = sigma / alpha: dy/dr = eps_hat (Song et al. 2021, eq. 14; Karras et al.
2022, Sec. 3, where alpha = 1 and r = sigma), as k-diffusion does.

- DDIM with eta (Song et al. 2021, eq. 12) in the general affine form
  x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z,  c = eta sigma_s sqrt(1 - SNR_t / SNR_s);
  eta = 1 is DDPM's ancestral step (Ho et al. 2020), the posterior q(x_s | x_t, x0).
- Euler in r: x_s = alpha_s x0_hat + sigma_s eps_hat, i.e. DDIM(0) (Karras et al. 2022, Algorithm 1
  without its second stage; k-diffusion's ``sample_euler``).
- Heun in r (Karras et al. 2022, Algorithms 1-2, with EDM's churn raising sigma / alpha): the
  trapezoid on dy/dr = eps_hat; from r_t > ``HEUN_R_MAX`` (alpha_t = 0 included) the trapezoid is
  taken in u = alpha / sigma on dz/du = x0_hat, z = x / sigma, the same ODE seen from the data side.
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
from genlab.core.grids import as_grid
from genlab.core.ode import integrate_adaptive
from genlab.core.tensors import append_dims, check_finite, check_time

# Heun's trapezoid is taken in u = alpha / sigma where r = sigma / alpha exceeds this (SNR < 1e-4):
# there x0_hat is nearly constant and eps_hat is not, so the ODE is nearly linear in u, and the
# r-trapezoid's weight (sigma_s - alpha_s r_t) / 2 would multiply eps_hat's change by ~r_t. EDM's
# grid tops out at sigma = 80, so on it the sampler is Karras's exactly.
HEUN_R_MAX = 100.0
Step = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
Callback = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor | None], None]


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
    callback: Callback | None = None,
) -> torch.Tensor:
    """Run ``step(k, x, t, s) -> (x_s, x0_hat)`` along the grid, keeping elements whose time does not
    move. As in k-diffusion, ``callback(k, t, x, x0_hat)`` sees every step's starting point x at t and
    the denoised estimate made there (None where the step makes none; meaningless for resting elements).

    Which elements move is read once before the loop, so the loop itself never waits on the device;
    x is checked to be finite at the start and at the end, not at every network call.
    """
    check_finite(x, "x_init")
    grid = as_grid(grid, x)
    check_grid(grid, x)
    noise_fn = noise_fn or gaussian
    moving = grid[1:] != grid[:-1]
    flat = moving.reshape(moving.shape[0], -1)
    some, every = flat.any(1).tolist(), flat.all(1).tolist()
    if constraint is not None:
        x = constraint.apply(x, grid[0], schedule, noise_fn, generator)
    for k, (t, s) in enumerate(zip(grid[:-1], grid[1:])):
        x_t, x0 = x, None
        if some[k]:
            x_s, x0 = step(k, x, t, s)
            x = x_s if every[k] else torch.where(append_dims(moving[k], x.ndim), x_s, x)
        if callback is not None:
            callback(k, t, x_t, x0)
        if constraint is not None:
            x = constraint.apply(x, s, schedule, noise_fn, generator)
    check_finite(x, "sampled x (the model or the grid produced NaN or inf)")
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
) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step from t to s < t, (x_s, x0_hat); eta = 0 is deterministic (Euler in sigma / alpha),
    eta = 1 is DDPM's ancestral step."""
    x0, eps = denoiser.x0_eps(x, t, check=False, **(cond or {}))
    sch = denoiser.schedule
    a_s, s_s = (append_dims(c, x.ndim) for c in sch.alpha_sigma(s))
    if eta == 0:
        return a_s * x0 + s_s * eps, x0
    c = eta * s_s * append_dims(torch.sqrt(-torch.expm1(sch.logsnr(t) - sch.logsnr(s))), x.ndim)
    z = (noise_fn or gaussian)(x, generator)
    return a_s * x0 + (s_s**2 - c**2).clamp_min(0).sqrt() * eps + c * z, x0


def euler_step(
    denoiser: Denoiser, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor, *, cond: dict | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Euler in r = sigma / alpha on dy/dr = eps_hat, y = x / alpha: DDIM(0)."""
    return ddim_step(denoiser, x, t, s, cond=cond)


def heun_step(
    denoiser: Denoiser, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor, *, cond: dict | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Heun's trapezoid in r = sigma / alpha (in u = alpha / sigma where r_t > HEUN_R_MAX); an Euler step
    where s = 0, where the denoiser is not evaluated (Karras et al. 2022, Algorithm 1)."""
    cond = cond or {}
    x0, eps = denoiser.x0_eps(x, t, check=False, **cond)
    (a_t, sg_t), (a_s, sg_s) = denoiser.schedule.alpha_sigma(t), denoiser.schedule.alpha_sigma(s)
    x_euler = append_dims(a_s, x.ndim) * x0 + append_dims(sg_s, x.ndim) * eps
    rest, last = s == t, s == 0
    x_euler = torch.where(append_dims(rest, x.ndim), x, x_euler)  # resting elements may sit at sigma = 0
    if last.all():
        return x_euler, x0
    x0_2, eps_2 = denoiser.x0_eps(x_euler, torch.where(last, t, s), check=False, **cond)
    first = sg_t > HEUN_R_MAX * a_t  # r_t above HEUN_R_MAX (or infinite): the trapezoid in u
    c_eps = torch.where(first | last, 0.0, sg_s - a_s * sg_t / torch.where(first, 1.0, a_t)) / 2
    c_x0 = torch.where(first & ~last, a_s - sg_s * a_t / sg_t, 0.0) / 2
    out = x_euler + append_dims(c_eps, x.ndim) * (eps_2 - eps) + append_dims(c_x0, x.ndim) * (x0_2 - x0)
    return out, x0


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
    callback: Callback | None = None,
) -> torch.Tensor:
    """DDIM(eta) along the grid (Song et al. 2021)."""

    def step(k, x, t, s):
        return ddim_step(denoiser, x, t, s, eta=eta, noise_fn=noise_fn, generator=generator, cond=cond)

    return sample_loop(
        step,
        denoiser.schedule,
        x,
        grid,
        constraint=constraint,
        noise_fn=noise_fn,
        generator=generator,
        callback=callback,
    )


def sample_ancestral(denoiser: Denoiser, x: torch.Tensor, grid: torch.Tensor, **kwargs) -> torch.Tensor:
    """DDPM ancestral sampling (Ho et al. 2020): x_s drawn from q(x_s | x_t, x0_hat), i.e. DDIM(eta=1)."""
    return sample_ddim(denoiser, x, grid, eta=1.0, **kwargs)


def sample_euler(denoiser: Denoiser, x: torch.Tensor, grid: torch.Tensor, **kwargs) -> torch.Tensor:
    """Euler's method on the probability-flow ODE in r = sigma / alpha (first order), which is DDIM(0):
    k-diffusion's Euler on the EDM schedule, where r = sigma."""
    return sample_ddim(denoiser, x, grid, eta=0.0, **kwargs)


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
    callback: Callback | None = None,
) -> torch.Tensor:
    """EDM's sampler (Karras et al. 2022, Algorithm 2; Algorithm 1 when churn = 0): Heun steps in
    r = sigma / alpha, second order; on the EDM schedule, on the Karras grid, it is the paper's.

    With churn > 0, elements with t in ``churn_range`` first move up to t_hat, where
    sigma/alpha grows by 1 + gamma, gamma = min(churn / K, sqrt(2) - 1), by adding fresh noise.
    """
    sch, steps = denoiser.schedule, grid.shape[0] - 1
    gamma = min(churn / steps, math.sqrt(2) - 1)
    noise = noise_fn or gaussian

    def step(k, x, t, s):
        g = torch.where((t >= churn_range[0]) & (t <= churn_range[1]) & (s < t), gamma, 0.0)
        if gamma > 0 and bool((g > 0).any()):  # noise is drawn only on steps that churn, as in the paper
            t_hat = torch.maximum(sch.t_from_logsnr(sch.logsnr(t) - 2 * torch.log1p(g)), t)
            (a, sg), (a_hat, s_hat) = sch.alpha_sigma(t), sch.alpha_sigma(t_hat)
            ratio = torch.where(t_hat > t, a_hat / a, 1.0)
            extra = churn_noise * (s_hat**2 - (ratio * sg) ** 2).clamp_min(0).sqrt()
            x = append_dims(ratio, x.ndim) * x + append_dims(extra, x.ndim) * noise(x, generator)
            t = t_hat
        return heun_step(denoiser, x, t, s, cond=cond)

    return sample_loop(
        step, sch, x, grid, constraint=constraint, noise_fn=noise_fn, generator=generator, callback=callback
    )


def sample_dpmpp_2m(
    denoiser: Denoiser,
    x: torch.Tensor,
    grid: torch.Tensor,
    *,
    constraint: Constraint | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
    callback: Callback | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022): x_s = (sigma_s / sigma_t) x - alpha_s (e^-h - 1) D with
    h = l_s - l_t and D = (1 + 1/(2r)) x0_t - 1/(2r) x0_prev, r = h_prev / h. First order on an
    element's first step, after it rests, and on steps that end at t = 0.

    alpha, sigma and l are computed once for the whole grid; the loop holds no device sync and no
    full-size selection (the second-order weight is zero where the step is first order)."""
    sch, cond = denoiser.schedule, cond or {}
    g = as_grid(grid, x)
    a, sg = sch.alpha_sigma(g)
    lam = a.log() - sg.log()  # half the logSNR; -inf where alpha = 0, inf where sigma = 0
    h = lam[1:] - lam[:-1]
    ratio, gain = sg[1:] / sg[:-1], -a[1:] * torch.expm1(-h)
    r = torch.cat([torch.zeros_like(h[:1]), h[:-1]]) / h  # h_prev / h, 0 on the first step
    w = torch.where((r > 0) & (g[1:] > 0) & torch.isfinite(r), 1 / (2 * r), 0.0)  # 1/(2r) or 0
    prev: list[torch.Tensor] = []

    def step(k, x, t, s):
        x0 = denoiser.predict(x, t, "x0", check=False, **cond)
        d = x0 + append_dims(w[k], x.ndim) * (x0 - prev[0]) if prev else x0
        prev[:] = [x0]
        return append_dims(ratio[k], x.ndim) * x + append_dims(gain[k], x.ndim) * d, x0

    return sample_loop(
        step, sch, x, g, constraint=constraint, noise_fn=noise_fn, generator=generator, callback=callback
    )


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
    callback: Callback | None = None,
) -> torch.Tensor:
    """The probability-flow ODE with an adaptive solver (torchdiffeq) between the grid's rows.

    Every row must hold one time for all elements. Times are floored at ``t_min``, where the
    velocity is still regular; a grid that ends at 0 ends with x0_hat(x, t_min) (the final
    denoising step of Song et al. 2021). The constraint is imposed at the grid's rows; the callback
    gets x0_hat only on that last step.
    """
    grid = as_grid(grid, x)
    rows = grid.reshape(grid.shape[0], -1)
    if (rows != rows[:, :1]).any():
        raise ValueError("sample_adaptive needs a grid whose rows each hold a single time")
    cond, t_ndim = cond or {}, grid.ndim - 1

    def velocity(y, t):
        return denoiser.predict(y, t, "velocity", check=False, **cond)

    def step(k, x, t, s):
        t0, t1 = (max(float(v.flatten()[0]), t_min) for v in (t, s))
        if t1 < t0:
            x = integrate_adaptive(velocity, x, t0, t1, method=method, atol=atol, rtol=rtol, t_ndim=t_ndim)
        if float(s.flatten()[0]) == 0:
            x = denoiser.predict(x, torch.full_like(s, t1), "x0", check=False, **cond)
            return x, x
        return x, None

    return sample_loop(
        step,
        denoiser.schedule,
        x,
        grid,
        constraint=constraint,
        noise_fn=noise_fn,
        generator=generator,
        callback=callback,
    )


def prior_moments(
    schedule: Schedule, t: torch.Tensor, mean: torch.Tensor | float = 0.0, var: torch.Tensor | float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loc, std) of N(alpha(t) mean, alpha(t)^2 var + sigma(t)^2): the marginal p_t of data with that
    mean and (per-element) variance when the data are Gaussian, and its moment match otherwise."""
    a, s = schedule.alpha_sigma(t)
    return a * mean, (a**2 * var + s**2).sqrt()


def sample_prior(
    schedule: Schedule,
    shape: tuple[int, ...],
    *,
    mean: torch.Tensor | float = 0.0,
    var: torch.Tensor | float = 0.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """x_1 ~ N(alpha(1) mean, alpha(1)^2 var + sigma(1)^2), the start of sampling.

    ``mean`` and ``var`` (the data's, broadcast against ``shape``) make it data-matched. The default,
    N(0, sigma(1)^2), is exact only when alpha(1) = 0 (rectified flow, zero terminal SNR) and biased
    otherwise: badly on EDM (alpha = 1, so the data's offset is ignored against sigma_max), slightly
    on LinearBeta (alpha(1) = 6.6e-3) and Cosine (alpha(1) = 5.5e-4).
    """
    one = torch.ones((), dtype=dtype, device=device)
    loc, std = prior_moments(schedule, one, torch.as_tensor(mean).to(one), torch.as_tensor(var).to(one))
    return loc + std * torch.randn(shape, generator=generator, dtype=dtype, device=device)
