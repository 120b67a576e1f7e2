"""Gaussian diffusion for every domain: schedules, parameterisations, losses, samplers, guidance,
likelihoods, distillation and score distillation.

Time is the noise level (t = 0 data, t = 1 noise), t's shape is a prefix of x's shape, and a model
is called as ``model(x_t, t, **cond)`` with its prediction kind declared to a ``Denoiser``.
"""

from genlab.core.diffusion.constraints import Constraint
from genlab.core.diffusion.distillation import (
    consistency_distillation_loss,
    consistency_training_loss,
    ema_update_,
    progressive_distillation_target,
    sample_consistency,
)
from genlab.core.diffusion.exact import MixtureDenoiser
from genlab.core.diffusion.guidance import ClassifierFreeGuidance, GradientGuidance
from genlab.core.diffusion.likelihood import log_likelihood
from genlab.core.diffusion.noise import com_free_dims, gaussian, remove_com, zero_com
from genlab.core.diffusion.parameterization import (
    KINDS,
    Denoiser,
    EDMPrecond,
    convert,
    edm_scalings,
    from_x0_eps,
    to_x0_eps,
)
from genlab.core.diffusion.samplers import (
    check_grid,
    ddim_step,
    euler_step,
    heun_step,
    prior_moments,
    sample_adaptive,
    sample_ancestral,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
    sample_loop,
    sample_prior,
)
from genlab.core.diffusion.schedules import (
    EDM,
    SCHEDULES,
    Affine,
    Cosine,
    LinearBeta,
    RectifiedFlow,
    Schedule,
    Shifted,
    Sigmoid,
    ZeroTerminalSNR,
    get_schedule,
    input_scaling,
    interpolated_shift,
    resolution_shift,
)
from genlab.core.diffusion.sds import sds_grad, sds_loss
from genlab.core.diffusion.training import (
    T_SAMPLERS,
    WEIGHTINGS,
    diffusion_loss,
    drop_condition,
    loss_weight,
    sample_t,
)

__all__ = [
    "EDM",
    "KINDS",
    "SCHEDULES",
    "T_SAMPLERS",
    "WEIGHTINGS",
    "Affine",
    "ClassifierFreeGuidance",
    "Constraint",
    "Cosine",
    "Denoiser",
    "EDMPrecond",
    "GradientGuidance",
    "LinearBeta",
    "MixtureDenoiser",
    "RectifiedFlow",
    "Schedule",
    "Shifted",
    "Sigmoid",
    "ZeroTerminalSNR",
    "check_grid",
    "com_free_dims",
    "consistency_distillation_loss",
    "consistency_training_loss",
    "convert",
    "ddim_step",
    "diffusion_loss",
    "drop_condition",
    "edm_scalings",
    "ema_update_",
    "euler_step",
    "from_x0_eps",
    "gaussian",
    "get_schedule",
    "heun_step",
    "input_scaling",
    "interpolated_shift",
    "log_likelihood",
    "loss_weight",
    "prior_moments",
    "progressive_distillation_target",
    "remove_com",
    "resolution_shift",
    "sample_adaptive",
    "sample_ancestral",
    "sample_consistency",
    "sample_ddim",
    "sample_dpmpp_2m",
    "sample_euler",
    "sample_heun",
    "sample_loop",
    "sample_prior",
    "sample_t",
    "sds_grad",
    "sds_loss",
    "to_x0_eps",
    "zero_com",
]
