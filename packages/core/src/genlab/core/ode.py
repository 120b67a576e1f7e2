"""Fixed-step and adaptive ODE integration over a time grid, shared by flows and diffusion.

``velocity(x, t) -> dx/dt``. The grid has shape (K+1, *t_shape): row k is the time of every
element at step k, so one grid serves per-sample, per-frame and per-token clocks. Grids usually
run from t = 1 (noise) to t = 0 (data) (``genlab.core.grids``); the integrators do not care about the
direction.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.core.grids import as_grid
from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims, check_time

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _euler(f: Velocity, x, t0, t1):
    return x + append_dims(t1 - t0, x.ndim) * f(x, t0)


def _midpoint(f: Velocity, x, t0, t1):
    h = append_dims(t1 - t0, x.ndim)
    tm = (t0 + t1) / 2
    return x + h * f(x + h / 2 * f(x, t0), tm)


def _heun(f: Velocity, x, t0, t1):
    h = append_dims(t1 - t0, x.ndim)
    d0 = f(x, t0)
    d1 = f(x + h * d0, t1)
    return x + h * (d0 + d1) / 2


def _rk4(f: Velocity, x, t0, t1):
    h = append_dims(t1 - t0, x.ndim)
    tm = (t0 + t1) / 2
    k1 = f(x, t0)
    k2 = f(x + h / 2 * k1, tm)
    k3 = f(x + h / 2 * k2, tm)
    k4 = f(x + h * k3, t1)
    return x + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6


STEPS = {"euler": _euler, "midpoint": _midpoint, "heun": _heun, "rk4": _rk4}
EVALS_PER_STEP = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}


def integrate(
    velocity: Velocity,
    x: torch.Tensor,
    grid: torch.Tensor,
    method: str = "euler",
    return_path: bool = False,
) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) along ``grid`` with a fixed-step method.

    Returns x at the last grid time, or the whole path [K+1, *x.shape] when ``return_path``.
    """
    step = lookup("ODE method", method, STEPS)
    grid = as_grid(grid, x)
    check_time(grid[0], x)
    path = [x]
    for t0, t1 in zip(grid[:-1], grid[1:]):
        x = step(velocity, x, t0, t1)
        if return_path:
            path.append(x)
    return torch.stack(path) if return_path else x


def integrate_adaptive(
    velocity: Velocity,
    x: torch.Tensor,
    start: float = 1.0,
    end: float = 0.0,
    method: str = "dopri5",
    atol: float = 1e-5,
    rtol: float = 1e-5,
    t_ndim: int = 1,
) -> torch.Tensor:
    """Adaptive integration with torchdiffeq from ``start`` to ``end`` (one clock for the batch).

    torchdiffeq passes a 0-d time; the model still receives a tensor of shape x.shape[:t_ndim].
    """
    from torchdiffeq import odeint

    def f(t, y):
        return velocity(y, t.to(y).expand(y.shape[:t_ndim]))

    ts = torch.tensor([start, end], dtype=x.dtype, device=x.device)
    return odeint(f, x, ts, method=method, atol=atol, rtol=rtol)[-1]
