"""Few-step students: progressive distillation and consistency models.

Progressive distillation (Salimans & Ho 2022, Algorithm 2): two deterministic DDIM steps of the
teacher, t -> (t + s)/2 -> s, become one student step t -> s. The student's x0 target is the x0 that
makes one DDIM step land on the teacher's result:
  x0~ = (x_s - (sigma_s / sigma_t) x_t) / (alpha_s - (sigma_s / sigma_t) alpha_t),
returned in any kind (e.g. v) through the exact conversions.

Consistency models (Song et al. 2023): f(x_t, t) maps every point of a probability-flow trajectory
to its end at t = 0, with the boundary condition built in by ``EDMPrecond(sigma_min=...)`` (c_skip,
c_out). Distillation (CD, Algorithm 2) compares f(x_t, t) with the EMA target f-(x_s, s), x_s one
Euler/Heun step of the teacher's ODE; training (CT, Algorithm 3) uses x_s = alpha_s x0 + sigma_s eps
with the same eps instead. Sampling (Algorithm 1) alternates f and re-noising. Distances: squared
L2, or the pseudo-Huber sqrt(||a - b||^2 + c^2) - c (Song & Dhariwal 2023, c = 0.00054 sqrt(d)).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genlab.core.diffusion.constraints import Constraint
from genlab.core.diffusion.noise import NoiseFn, gaussian
from genlab.core.diffusion.parameterization import Denoiser, convert
from genlab.core.diffusion.samplers import Callback, ddim_step, euler_step, heun_step, sample_loop
from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims, check_finite, check_time


def progressive_distillation_target(
    teacher: Denoiser,
    x: torch.Tensor,
    t: torch.Tensor,
    s: torch.Tensor,
    *,
    kind: str = "x0",
    cond: dict | None = None,
) -> torch.Tensor:
    """The student's target at (x_t, t) for one step to s < t, in ``kind``."""
    check_time(t, x)
    u = (t + s) / 2
    with torch.no_grad():
        x_s = ddim_step(teacher, ddim_step(teacher, x, t, u, cond=cond)[0], u, s, cond=cond)[0]
    sch = teacher.schedule
    (a_t, sg_t), (a_s, sg_s) = sch.alpha_sigma(t), sch.alpha_sigma(s)
    ratio = sg_s / sg_t
    x0 = (x_s - append_dims(ratio, x.ndim) * x) / append_dims(a_s - ratio * a_t, x.ndim)
    return convert(x0, "x0", kind, x, t, sch)


def _l2(a, b, dims, c):
    return (a - b).square().mean(dims)


def _pseudo_huber(a, b, dims, c):
    if c is None:
        c = 0.00054 * math.sqrt(math.prod(a.shape[d] for d in dims))
    return torch.sqrt((a - b).square().sum(dims) + c**2) - c


DISTANCES = {"l2": _l2, "pseudo_huber": _pseudo_huber}
TEACHER_STEPS = {"euler": euler_step, "heun": heun_step}


def _adjacent_times(grid: torch.Tensor, t_shape, generator) -> tuple[torch.Tensor, torch.Tensor]:
    if grid.ndim != 1 or grid.shape[0] < 2 or (grid[1:] >= grid[:-1]).any():
        raise ValueError("consistency losses need a 1-D grid of decreasing times (K+1,)")
    n = torch.randint(0, grid.shape[0] - 1, tuple(t_shape), generator=generator, device=grid.device)
    return grid[n], grid[n + 1]


def _consistency_loss(student, target, x_t, t, x_s, s, distance, huber_c, cond):
    pred = student.x0(x_t, t, **cond)
    with torch.no_grad():
        ref = target.x0(x_s, s, **cond)
    d = lookup("distance", distance, DISTANCES)(pred, ref, tuple(range(t.ndim, x_t.ndim)), huber_c)
    loss = d.mean()
    return loss, {"loss": float(loss.detach()), "t_mean": float(t.mean())}


def consistency_distillation_loss(
    student: Denoiser,
    target: Denoiser,
    teacher: Denoiser,
    x0: torch.Tensor,
    grid: torch.Tensor,
    *,
    solver: str = "heun",
    distance: str = "l2",
    huber_c: float | None = None,
    t_shape: tuple[int, ...] | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """CD: d(f(x_t, t), f-(Phi(x_t, t -> s), s)) for adjacent (t, s) of ``grid``; returns (loss, logs)."""
    check_finite(x0, "x0")
    cond = cond or {}
    t, s = _adjacent_times(grid.to(x0), t_shape or x0.shape[:1], generator)
    x_t = teacher.schedule.add_noise(x0, (noise_fn or gaussian)(x0, generator), t)
    with torch.no_grad():
        x_s = lookup("teacher solver", solver, TEACHER_STEPS)(teacher, x_t, t, s, cond=cond)[0]
    return _consistency_loss(student, target, x_t, t, x_s, s, distance, huber_c, cond)


def consistency_training_loss(
    student: Denoiser,
    target: Denoiser,
    x0: torch.Tensor,
    grid: torch.Tensor,
    *,
    distance: str = "l2",
    huber_c: float | None = None,
    t_shape: tuple[int, ...] | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """CT: d(f(alpha_t x0 + sigma_t eps, t), f-(alpha_s x0 + sigma_s eps, s)), no teacher."""
    check_finite(x0, "x0")
    t, s = _adjacent_times(grid.to(x0), t_shape or x0.shape[:1], generator)
    eps = (noise_fn or gaussian)(x0, generator)
    sch = student.schedule
    return _consistency_loss(
        student,
        target,
        sch.add_noise(x0, eps, t),
        t,
        sch.add_noise(x0, eps, s),
        s,
        distance,
        huber_c,
        cond or {},
    )


def sample_consistency(
    model: Denoiser,
    x: torch.Tensor,
    grid: torch.Tensor,
    *,
    constraint: Constraint | None = None,
    noise_fn: NoiseFn | None = None,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
    callback: Callback | None = None,
) -> torch.Tensor:
    """Multistep consistency sampling: x0 = f(x, t), then x = alpha_s x0 + sigma_s z; one step is [1, 0]."""
    noise = noise_fn or gaussian

    def step(k, x, t, s):
        a_s, s_s = (append_dims(c, x.ndim) for c in model.schedule.alpha_sigma(s))
        x0 = model.predict(x, t, "x0", check=False, **(cond or {}))
        return a_s * x0 + s_s * noise(x, generator), x0

    return sample_loop(
        step,
        model.schedule,
        x,
        grid,
        constraint=constraint,
        noise_fn=noise_fn,
        generator=generator,
        callback=callback,
    )


@torch.no_grad()
def ema_update_(target: nn.Module, source: nn.Module, decay: float) -> None:
    """target <- decay * target + (1 - decay) * source, parameter by parameter (the CM target net)."""
    for pt, ps in zip(target.parameters(), source.parameters(), strict=True):
        pt.lerp_(ps, 1 - decay)
