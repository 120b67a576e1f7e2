"""What the Gaussian-diffusion recipes share: samplers and time grids by name, counted in network
evaluations (NFE), so that every recipe and benchmark compares samplers at equal cost.

Grids: ``uniform`` in t (DDPM / DDIM), ``logsnr`` uniform in logSNR (DPM-Solver; Lu et al. 2022),
``karras`` (EDM eq. 5; Karras et al. 2022). Heun with K steps costs 2K - 1 evaluations (its last
step, ending at t = 0, is an Euler step); every other fixed-step sampler costs one per step.
"""

from __future__ import annotations

from typing import Literal

import torch

from genlab.core.diffusion import (
    Denoiser,
    karras_grid,
    logsnr_grid,
    sample_adaptive,
    sample_ancestral,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
)
from genlab.core.lookup import lookup
from genlab.core.ode import time_grid

SamplerName = Literal["ddim", "ancestral", "euler", "heun", "dpmpp_2m", "adaptive"]
GridName = Literal["uniform", "logsnr", "karras"]
ScheduleName = Literal["cosine", "linear", "sigmoid", "edm", "rectified_flow"]
KindName = Literal["eps", "x0", "v", "score", "velocity"]

SAMPLERS = {
    "ddim": sample_ddim,
    "ancestral": sample_ancestral,
    "euler": sample_euler,
    "heun": sample_heun,
    "dpmpp_2m": sample_dpmpp_2m,
    "adaptive": sample_adaptive,
}
STOCHASTIC = ("ancestral",)


def make_grid(
    schedule, name: str, steps: int, batch: int, t_min: float = 1e-3, t_max: float = 1.0
) -> torch.Tensor:
    """A grid of ``steps`` steps from t = 1 to t = 0, shape (steps + 1, batch); the logsnr grid
    spends its steps between t_max and t_min (then jumps to 0)."""
    lookup("time grid", name, dict.fromkeys(("uniform", "logsnr", "karras")))
    if name == "uniform":
        return time_grid(steps, (batch,))
    if name == "logsnr":
        return logsnr_grid(schedule, steps, (batch,), t_min=t_min, t_max=t_max)
    return karras_grid(schedule, steps, (batch,))


def steps_for_nfe(sampler: str, nfe: int) -> int:
    """The number of steps that costs ``nfe`` evaluations (the adaptive solver takes the grid's 1)."""
    lookup("sampler", sampler, SAMPLERS)
    if nfe < 1:
        raise ValueError(f"need at least one network evaluation, got nfe={nfe}")
    if sampler == "adaptive":
        return 1
    return (nfe + 1) // 2 if sampler == "heun" else nfe


@torch.no_grad()
def sample_nfe(
    denoiser: Denoiser,
    sampler: str,
    grid: str,
    nfe: int,
    x: torch.Tensor,
    *,
    t_min: float = 1e-3,
    t_max: float = 1.0,
    generator: torch.Generator | None = None,
    cond: dict | None = None,
) -> torch.Tensor:
    """Run ``sampler`` from x (at t = 1) on the named grid with about ``nfe`` evaluations."""
    fn = lookup("sampler", sampler, SAMPLERS)
    g = make_grid(denoiser.schedule, grid, steps_for_nfe(sampler, nfe), x.shape[0], t_min, t_max).to(x)
    options = {"generator": generator} if sampler in STOCHASTIC else {}
    return fn(denoiser, x, g, cond=cond, **options)
