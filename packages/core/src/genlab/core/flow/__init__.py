"""Flow matching, stochastic interpolants and rectified flow (Lipman et al. 2023; Albergo and
Vanden-Eijnden 2023; Liu et al. 2023; Tong et al. 2024)."""

from genlab.core.flow.couplings import COUPLINGS, get_coupling
from genlab.core.flow.exact import MixtureInterpolant
from genlab.core.flow.interpolants import (
    Interpolant,
    sample_sde,
    velocity_objective,
)
from genlab.core.flow.matching import LINEAR, cfm_loss, path_sample, sample_flow, sb_cfm_loss
from genlab.core.flow.paths import PATHS, CondOT, Trigonometric, get_path
from genlab.core.flow.rectified import (
    crossing_rate,
    distill_loss,
    one_step,
    reflow_pairs,
    simulate,
    straightness,
    transport_cost,
)

__all__ = [
    "COUPLINGS",
    "LINEAR",
    "PATHS",
    "CondOT",
    "Interpolant",
    "MixtureInterpolant",
    "Trigonometric",
    "cfm_loss",
    "crossing_rate",
    "distill_loss",
    "get_coupling",
    "get_path",
    "one_step",
    "path_sample",
    "reflow_pairs",
    "sample_flow",
    "sample_sde",
    "sb_cfm_loss",
    "simulate",
    "straightness",
    "transport_cost",
    "velocity_objective",
]
