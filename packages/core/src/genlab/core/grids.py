"""Time grids for every sampler (Gaussian, flow and discrete), with one signature.

A grid has shape (K+1, *t_shape) and runs from t_max (noise) down to t = 0 (data); row k is every
element's time at step k. Every constructor is ``name(steps, t_shape=(), *, schedule=None,
t_max=1.0, t_min=..., dtype=None, device=None)``; ``schedule`` is needed by the grids that are
uniform in a schedule's own variable:

- ``time_grid``: uniform in t from t_max to t_min (DDPM / DDIM; flows and discrete paths).
- ``logsnr_grid``: uniform in logSNR from t_max to t_min, then t = 0 (DPM-Solver; Lu et al. 2022).
  Where logSNR is infinite at t_max (rectified flow at t = 1) its end is clipped at ``logsnr_floor``.
- ``karras_grid``: sigma/alpha uniform in (sigma/alpha)^(1/rho) between sigma_max and sigma_min,
  then t = 0 (EDM eq. 5; Karras et al. 2022).

``as_grid`` gives a 1-D grid (K+1,) the batch axis, so that every sampler sees t of shape [B].
"""

from __future__ import annotations

import torch

from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims


def _finish(t: torch.Tensor, t_shape: tuple[int, ...], zero: bool, dtype, device) -> torch.Tensor:
    """Append t = 0 (when ``zero``) and broadcast the 1-D times to (K+1, *t_shape)."""
    g = torch.cat([t, t.new_zeros(1)]) if zero else t
    g = g.to(dtype=dtype or torch.get_default_dtype(), device=device)
    return append_dims(g, 1 + len(t_shape)).expand(g.shape[0], *t_shape).contiguous()


def _need(schedule, name: str):
    if schedule is None:
        raise ValueError(f"the {name} grid needs a schedule")
    return schedule


def _check_steps(steps: int) -> None:
    if steps < 1:
        raise ValueError(f"need at least one step, got {steps}")


def time_grid(
    steps: int,
    t_shape: tuple[int, ...] = (),
    *,
    schedule=None,
    t_max: float = 1.0,
    t_min: float = 0.0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``steps`` uniform steps in t from t_max to t_min, shape (steps+1, *t_shape); needs no schedule."""
    _check_steps(steps)
    return _finish(
        torch.linspace(t_max, t_min, steps + 1, dtype=torch.float64), t_shape, False, dtype, device
    )


def logsnr_grid(
    steps: int,
    t_shape: tuple[int, ...] = (),
    *,
    schedule=None,
    t_max: float = 1.0,
    t_min: float = 1e-3,
    logsnr_floor: float = -20.0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``steps`` points uniform in logSNR from t_max to t_min, then t = 0 (k-diffusion's exponential)."""
    _check_steps(steps)
    sch = _need(schedule, "logsnr")
    ends = sch.logsnr(torch.tensor([t_max, t_min], dtype=torch.float64))
    if not torch.isfinite(ends[1]):
        raise ValueError(f"logSNR is infinite at t_min={t_min}; move it inside (0, 1)")
    hi = max(float(ends[0]), logsnr_floor) if float(ends[0]) < float(ends[1]) else float(ends[0])
    t = sch.t_from_logsnr(torch.linspace(hi, float(ends[1]), steps, dtype=torch.float64))
    t[0] = t_max
    return _finish(t, t_shape, True, dtype, device)


def karras_grid(
    steps: int,
    t_shape: tuple[int, ...] = (),
    *,
    schedule=None,
    t_max: float = 1.0,
    t_min: float = 0.0,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Karras et al. (2022) eq. 5: ``steps`` values of sigma/alpha spaced uniformly in s^(1/rho) from
    sigma_max to sigma_min, mapped to t through the schedule and clamped to [t_min, t_max], then 0."""
    _check_steps(steps)
    sch = _need(schedule, "karras")
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    s = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return _finish(sch.t_from_logsnr(-2 * s.log()).clamp(t_min, t_max), t_shape, True, dtype, device)


GRIDS = {"uniform": time_grid, "logsnr": logsnr_grid, "karras": karras_grid}


def make_grid(name: str, steps: int, t_shape: tuple[int, ...] = (), **options) -> torch.Tensor:
    """The grid ``name`` of ``GRIDS`` (uniform, logsnr, karras) with the common signature."""
    return lookup("time grid", name, GRIDS)(steps, t_shape, **options)


def as_grid(grid, x: torch.Tensor) -> torch.Tensor:
    """``grid`` as a tensor in x's float type (or the default one for integer x) on x's device; a 1-D
    grid (K+1,) is shared by the batch and becomes (K+1, B)."""
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    grid = torch.as_tensor(grid, dtype=dtype, device=x.device)
    return grid[:, None].expand(-1, x.shape[0]) if grid.ndim == 1 else grid
