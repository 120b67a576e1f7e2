"""Couplings of a data batch with a source batch, separate from the flow-matching loss.

Independent pairing is plain CFM (Lipman et al. 2023). Minibatch optimal transport (Tong et al.
2024, "Improving and generalizing flow-based generative models with minibatch optimal
transport"; Pooladian et al. 2023) pairs the batch by an exact assignment, solved without
replacement so the result is a permutation (torchcfm samples the plan with replacement and drops
or duplicates points, its issue #142). The entropic plan with reg = 2 sigma^2 is the coupling of
Tong et al.'s Schrodinger-bridge CFM (its Brownian-bridge path is ``matching.sb_cfm_loss``);
label-aware OT only pairs points of the same class;
paired data (reflow) keeps the pairs it is given.
"""

from __future__ import annotations

import math

import numpy as np
import ot
import torch
from scipy.optimize import linear_sum_assignment

from genlab.core.lookup import lookup


def _cost(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    if x0.shape != x1.shape:
        raise ValueError(f"coupled batches must have one shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    return torch.cdist(x0.flatten(1).double(), x1.flatten(1).double()).square()


def independent(x0: torch.Tensor, x1: torch.Tensor, **_) -> tuple[torch.Tensor, torch.Tensor]:
    """The product coupling: pairs as drawn."""
    return x0, x1


def exact_ot(x0: torch.Tensor, x1: torch.Tensor, **_) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs minimising the summed squared distance: an exact assignment, a permutation of x1.

    POT's network simplex solves the equal-weight problem 2-6x faster than scipy's assignment; its
    optimal plan is a vertex, i.e. a permutation matrix, except in degenerate ties, where scipy's
    assignment is used instead.
    """
    cost = _cost(x0, x1).cpu().numpy()
    n = len(cost)
    weights = np.full(n, 1.0 / n)
    cols = ot.emd(weights, weights, cost).argmax(1)
    if len(np.unique(cols)) != n:
        rows, cols = linear_sum_assignment(cost)
        cols = cols[rows.argsort()]
    return x0, x1[torch.as_tensor(cols, device=x1.device)]


def sinkhorn_plan(cost: torch.Tensor, reg: float, tol: float = 1e-4, max_iters: int = 5000) -> torch.Tensor:
    """The entropic OT plan between two uniform marginals, by log-domain Sinkhorn iterations run until
    the row marginals are within ``tol`` (relative) of uniform: small reg needs many iterations, and a
    plan stopped early collapses towards nearest-neighbour pairing."""
    n, m = cost.shape
    log_k = -cost / reg
    log_a, log_b = (
        torch.full((n,), -math.log(n), dtype=cost.dtype),
        torch.full((m,), -math.log(m), dtype=cost.dtype),
    )
    f, g = torch.zeros_like(log_a), torch.zeros_like(log_b)
    for i in range(max_iters):
        f = log_a - torch.logsumexp(log_k + g[None, :], dim=1)
        g = log_b - torch.logsumexp(log_k + f[:, None], dim=0)
        if i % 10 == 9:
            rows = torch.logsumexp(log_k + f[:, None] + g[None, :], dim=1)
            if (rows - log_a).abs().max() < tol:
                break
    return torch.exp(log_k + f[:, None] + g[None, :])


def entropic_ot(
    x0: torch.Tensor, x1: torch.Tensor, sigma: float = 0.5, generator: torch.Generator | None = None, **_
) -> tuple[torch.Tensor, torch.Tensor]:
    """Schrodinger-bridge pairing: every x0 keeps its place and draws its partner from the entropic
    plan's conditional pi(j | i), with reg = 2 sigma^2 (Tong et al., SB-CFM)."""
    plan = sinkhorn_plan(_cost(x0, x1).cpu(), reg=2 * sigma**2)
    cols = torch.multinomial(plan / plan.sum(1, keepdim=True), 1, generator=generator).squeeze(1)
    return x0, x1[cols.to(x1.device)]


def label_ot(
    x0: torch.Tensor, x1: torch.Tensor, labels: torch.Tensor | None = None, **_
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact OT inside each class of ``labels`` (the data's labels), so conditioning survives pairing."""
    if labels is None:
        raise ValueError("label-aware OT needs the batch's labels")
    out = x1.clone()
    for c in labels.unique():
        idx = (labels == c).nonzero().squeeze(1)
        out[idx] = exact_ot(x0[idx], x1[idx])[1]
    return x0, out


COUPLINGS = {"independent": independent, "ot": exact_ot, "entropic": entropic_ot, "label-ot": label_ot}


def get_coupling(name: str):
    """A coupling ``(x0, x1, **kw) -> (x0, x1_paired)`` by name."""
    return lookup("coupling", name, COUPLINGS)
