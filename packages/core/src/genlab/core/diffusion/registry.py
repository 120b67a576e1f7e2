"""Samplers and time grids by name, counted in network evaluations (NFE), so that every recipe and
benchmark compares samplers at equal cost.

Grids (``genlab.core.grids.GRIDS``): ``uniform`` in t (DDPM / DDIM), ``logsnr`` uniform in logSNR
(DPM-Solver; Lu et al. 2022), ``karras`` (EDM eq. 5; Karras et al. 2022). Heun with K steps costs
2K - 1 evaluations (its last step, ending at t = 0, is an Euler step); every other fixed-step
sampler costs one per step. The ``*Name`` literals type the recipes' config fields.
"""

from __future__ import annotations

from typing import Literal

import torch

from genlab.core.diffusion.parameterization import Denoiser
from genlab.core.diffusion.samplers import (
    Callback,
    sample_adaptive,
    sample_ancestral,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
)
from genlab.core.grids import make_grid
from genlab.core.lookup import lookup

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
    callback: Callback | None = None,
) -> torch.Tensor:
    """Run ``sampler`` from x (at t_max) on the named grid, shape (steps + 1, B), with about ``nfe``
    evaluations; the logsnr grid spends its steps between t_max and t_min (then jumps to 0)."""
    fn = lookup("sampler", sampler, SAMPLERS)
    options = {"schedule": denoiser.schedule, "t_max": t_max, "dtype": x.dtype, "device": x.device}
    if grid == "logsnr":
        options["t_min"] = t_min
    g = make_grid(grid, steps_for_nfe(sampler, nfe), (x.shape[0],), **options)
    extra = {"generator": generator} if sampler in STOCHASTIC else {}
    return fn(denoiser, x, g, cond=cond, callback=callback, **extra)
