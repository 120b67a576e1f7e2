"""Discrete diffusion and discrete flow matching: paths, per-token losses and samplers.

Time is the noise level (t = 0 clean, t = 1 fully masked or uniform) and may be per token [B, L].
"""

from genlab.core.discrete.d3pm import D3PMPath
from genlab.core.discrete.guidance import classifier_free_guidance, guided_logits
from genlab.core.discrete.losses import (
    D3PMLoss,
    bits_per_token,
    d3pm_loss,
    d3pm_prior_kl,
    generalized_kl_loss,
    mdlm_loss,
    nelbo,
    sample_time,
    subs_log_probs,
)
from genlab.core.discrete.paths import MixturePath, masked_path, uniform_path
from genlab.core.discrete.samplers import (
    maskgit_schedule,
    sample_ancestral,
    sample_ancestral_cached,
    sample_categorical,
    sample_ctmc_euler,
    sample_maskgit,
)
from genlab.core.discrete.schedules import (
    CorruptionSchedule,
    CosineCorruption,
    PolynomialCorruption,
    get_corruption_schedule,
)

__all__ = [
    "CosineCorruption",
    "D3PMLoss",
    "D3PMPath",
    "MixturePath",
    "PolynomialCorruption",
    "CorruptionSchedule",
    "bits_per_token",
    "classifier_free_guidance",
    "d3pm_loss",
    "d3pm_prior_kl",
    "generalized_kl_loss",
    "get_corruption_schedule",
    "guided_logits",
    "maskgit_schedule",
    "masked_path",
    "mdlm_loss",
    "nelbo",
    "sample_ancestral",
    "sample_ancestral_cached",
    "sample_categorical",
    "sample_ctmc_euler",
    "sample_maskgit",
    "sample_time",
    "subs_log_probs",
    "uniform_path",
]
