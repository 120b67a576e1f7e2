"""Classifier-free guidance on logits (Ho & Salimans, 2022), as used by MaskGIT-style and discrete
diffusion samplers (e.g. Nisonoff et al., 2024; Schiff et al., 2024).

    log p_w(x0 | x_t, c) = log p(x0 | x_t) + w [log p(x0 | x_t, c) - log p(x0 | x_t)]  (renormalised)

w = 0 is unconditional, w = 1 conditional, w > 1 sharpens towards the condition. The conditional
and unconditional passes run as one batch; w = 0 and w = 1 need one pass.
"""

from __future__ import annotations

import torch


def guided_logits(cond_logits: torch.Tensor, uncond_logits: torch.Tensor, scale: float) -> torch.Tensor:
    """Normalised log-probabilities of the guided distribution."""
    log_c, log_u = cond_logits.log_softmax(-1), uncond_logits.log_softmax(-1)
    return (log_u + scale * (log_c - log_u)).log_softmax(-1)


def classifier_free_guidance(model, scale: float, **null):
    """Wrap ``model(x, t, **cond)`` so that it returns guided logits.

    ``null`` gives the "no condition" value of each conditioning argument (a scalar such as the
    null class id, or a tensor that broadcasts against the condition).
    """

    def guided(x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        if set(cond) != set(null):
            raise ValueError(f"guidance needs a null value for exactly {sorted(cond)}, got {sorted(null)}")
        nulls = {k: torch.as_tensor(null[k]).to(v).expand_as(v) for k, v in cond.items()}
        if scale in (0, 1):  # one distribution alone: one pass, not two
            return model(x, t, **(nulls if scale == 0 else cond)).log_softmax(-1)
        both = {k: torch.cat([v, nulls[k]]) for k, v in cond.items()}
        logits = model(torch.cat([x, x]), torch.cat([t, t]), **both)
        return guided_logits(*logits.chunk(2), scale)

    return guided
