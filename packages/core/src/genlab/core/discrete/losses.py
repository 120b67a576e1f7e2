"""Per-token losses for discrete diffusion and discrete flow matching, and their NLL bound.

Every loss returns one term per token ([B, L], nats), so bits per token is ``loss / log 2``.

- MDLM (Sahoo et al., 2024): with alpha_t = 1 - kappa(t), the continuous-time NELBO is
      E_t [ kappa'(t) / kappa(t) sum_l 1[x_t^l = m] (-log p_theta(x0^l | x_t)) ],
  under the SUBS parameterisation (mask logit -inf, unmasked tokens copied through) and
  antithetic t.
- D3PM (Austin et al., 2021): L_vb = sum_k KL(q(x_{k-1} | x_k, x0) || p_theta(x_{k-1} | x_k))
  plus the prior and reconstruction terms, trained as L_{k-1} + lambda * CE on a random step k.
- Discrete flow matching (Gat et al., 2024; Lipman et al., 2024, "Flow Matching Guide and Code"):
  the generalized KL between the conditional rates u_t(y | x_t, x0) =
  w (delta_{x0}(y) - delta_{x_t}(y)) and the model's w (p_theta(y | x_t) - delta_{x_t}(y)), with
  w = kappa'(t) / kappa(t) in genlab's time. It is the KL between the two path measures, so its
  integral over t is itself a bound on -log p_theta(x0).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from genlab.core.discrete.d3pm import D3PMPath
from genlab.core.discrete.paths import MixturePath, pad_probs
from genlab.core.tensors import append_dims, check_time


def sample_time(batch: int, eps: float = 1e-3, antithetic: bool = True, device=None, generator=None):
    """t in [eps, 1] of shape [batch]; ``antithetic`` puts one t in each of ``batch`` strata (MDLM)."""
    u = torch.rand(batch, device=device, generator=generator)
    if antithetic:
        u = (u + torch.arange(batch, device=device)) / batch
    return eps + (1 - eps) * u


def subs_log_probs(logits: torch.Tensor, x_t: torch.Tensor, mask_id: int) -> torch.Tensor:
    """MDLM's SUBS: log p_theta(x0 | x_t) over the ``mask_id`` data tokens.

    The mask class gets probability zero (a mask column, if the model emits one, is dropped: logit
    -inf) and unmasked tokens are copied through as a point mass.
    """
    if logits.shape[:-1] != x_t.shape or logits.shape[-1] < mask_id:
        raise ValueError(
            f"logits {tuple(logits.shape)} do not fit x_t {tuple(x_t.shape)} and {mask_id} tokens"
        )
    log_p = F.log_softmax(logits[..., :mask_id].float(), dim=-1)
    unmasked = x_t != mask_id
    copied = F.one_hot(x_t.clamp(max=mask_id - 1), mask_id).to(log_p).log()
    return torch.where(unmasked[..., None], copied, log_p)


def _time(x0: torch.Tensor, t: torch.Tensor | None, generator) -> torch.Tensor:
    t = sample_time(x0.shape[0], device=x0.device, generator=generator) if t is None else t
    check_time(t, x0)
    return t


def mdlm_loss(model, path: MixturePath, x0: torch.Tensor, t=None, generator=None, **cond) -> torch.Tensor:
    """MDLM's masked NELBO per token, [B, L].

    t is per sample [B] (antithetic if not given) or per token [B, L]; the sum over tokens bounds
    -log p_theta(x0) for a shared t, while per-token t trains for mixed noise levels.
    """
    if path.mask_id is None:
        raise ValueError("MDLM's loss needs a masked path (source='mask')")
    t = _time(x0, t, generator)
    x_t = path.sample(x0, t, generator)
    log_p = subs_log_probs(model(x_t, t, **cond), x_t, path.mask_id)
    nll = -log_p.gather(-1, x0[..., None])[..., 0]
    return append_dims(path.schedule.rate(t), x0.ndim) * nll


def generalized_kl_loss(model, path: MixturePath, x0: torch.Tensor, t=None, generator=None, **cond):
    """Discrete flow matching's generalized KL per token, [B, L]:

        w [ -(1 - delta) log p(x0 | x_t) + delta - p(x_t | x_t) ],   delta = 1[x_t = x0],

    with the model's p over all states (zero on the mask)."""
    t = _time(x0, t, generator)
    x_t = path.sample(x0, t, generator)
    logits = model(x_t, t, **cond)[..., : path.vocab_size].float()
    log_p = F.log_softmax(logits, dim=-1)
    log_p_x0 = log_p.gather(-1, x0[..., None])[..., 0]
    p_xt = pad_probs(log_p.exp(), path.num_states).gather(-1, x_t[..., None])[..., 0]
    same = (x_t == x0).to(log_p)
    return append_dims(path.schedule.rate(t), x0.ndim) * (-(1 - same) * log_p_x0 + same - p_xt)


class D3PMLoss(NamedTuple):
    """``loss``: L_{k-1} + lambda CE, to train on; ``nelbo``: T L_{k-1} + L_T, unbiased for the
    per-token bound; ``ce``: -log p_theta(x0 | x_k). All [B, L]."""

    loss: torch.Tensor
    nelbo: torch.Tensor
    ce: torch.Tensor


def _d3pm_terms(model, path: D3PMPath, x0, k, generator, **cond):
    """(L_{k-1}, CE) per token at integer steps k >= 1: the KL to the true posterior, or for
    k = 1 the reconstruction term -log p_theta(x0 | x_1)."""
    t = k.to(torch.get_default_dtype()) / path.steps
    x_t = path.sample(x0, t, generator)
    log_p0 = F.log_softmax(model(x_t, t, **cond)[..., : path.vocab_size].double(), dim=-1)
    ce = -log_p0.gather(-1, x0[..., None])[..., 0]
    s = (k - 1).to(t) / path.steps
    p_theta = path.posterior(x_t, log_p0.exp(), t, s)
    q = path.posterior(x_t, F.one_hot(x0, path.vocab_size).double(), t, s)
    log_p_theta = p_theta.clamp_min(torch.finfo(p_theta.dtype).tiny).log()  # finite grads where q = 0
    kl = (torch.xlogy(q, q) - q * log_p_theta).sum(-1)
    recon = -log_p_theta.gather(-1, x0[..., None])[..., 0]
    first = append_dims(k == 1, x0.ndim).expand(x0.shape)
    return torch.where(first, recon, kl), ce


def d3pm_prior_kl(path: D3PMPath, x0: torch.Tensor) -> torch.Tensor:
    """L_T = KL(q(x_T | x0) || p(x_T)) per token; zero with the default betas."""
    q = path.probs(x0, torch.ones(x0.shape[:1], dtype=torch.float64, device=x0.device))
    return (torch.xlogy(q, q) - torch.xlogy(q, path.prior_probs(q))).sum(-1)


def d3pm_loss(
    model, path: D3PMPath, x0: torch.Tensor, k=None, ce_weight: float = 0.01, generator=None, **cond
):
    """D3PM's hybrid loss at random integer steps k in {1..T}, [B] (the bound) or [B, L] (mixed levels)."""
    if k is None:
        k = torch.randint(1, path.steps + 1, x0.shape[:1], device=x0.device, generator=generator)
    vb, ce = _d3pm_terms(model, path, x0, k, generator, **cond)
    return D3PMLoss(vb + ce_weight * ce, path.steps * vb + d3pm_prior_kl(path, x0), ce)


def nelbo(model, path, x0: torch.Tensor, samples: int = 1, generator=None, **cond) -> torch.Tensor:
    """A Monte-Carlo upper bound on -log p_theta(x0) in nats, per sequence [B].

    Mixture paths average ``samples`` antithetic draws of a shared t per sequence (MDLM's loss for
    the mask source, the generalized KL for the uniform one). D3PM sums every step k = 1..T, one
    draw of x_k each, plus the prior term.
    """
    total = torch.zeros(x0.shape[0], dtype=torch.float64, device=x0.device)
    for _ in range(samples):
        if isinstance(path, D3PMPath):
            for k in range(1, path.steps + 1):
                total += _d3pm_terms(model, path, x0, torch.full_like(x0[:, 0], k), generator, **cond)[0].sum(
                    -1
                )
            total += d3pm_prior_kl(path, x0).sum(-1)
        elif isinstance(path, MixturePath):
            loss = mdlm_loss if path.mask_id is not None else generalized_kl_loss
            total += loss(model, path, x0, None, generator, **cond).sum(-1)
        else:
            raise TypeError(f"no ELBO for a path of type {type(path).__name__}")
    return total / samples


def bits_per_token(nats: torch.Tensor, tokens: int) -> torch.Tensor:
    """Convert a bound in nats over ``tokens`` tokens to bits per token."""
    return nats / (tokens * math.log(2))
