"""Exact log-likelihood of a continuous-time flow, by the instantaneous change of variables.

Along dx/dt = v(x, t), d log p_t(x_t)/dt = -div v (Chen et al. 2018, "Neural ODEs"; Song et al.
2021, Sec. 4.3), so log p_0(x) = log p_1(x_1) + int_0^1 div v(x_t, t) dt. The augmented state
(x, int div v) is integrated with torchdiffeq from t_min (where v is regular) to t_max; the
divergence is exact (one backward pass per dimension) or Hutchinson's estimate E[z^T (dv/dx) z]
with Rademacher probes fixed for the whole solve (Grathwohl et al. 2019, FFJORD). With
``create_graph=True`` gradients flow to x and to the model's parameters (flow_matching's #59).
Diffusion (probability-flow ODE) and flow matching both call it with their velocity.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from genlab.core.lookup import lookup
from genlab.core.tensors import check_finite

DIVERGENCES = ("exact", "hutchinson")
Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _divergence(
    v: torch.Tensor, x: torch.Tensor, probes: torch.Tensor | None, create_graph: bool
) -> torch.Tensor:
    vf = v.flatten(1)
    if probes is None:
        cols = []
        for i in range(vf.shape[1]):
            (g,) = torch.autograd.grad(vf[:, i].sum(), x, create_graph=create_graph, retain_graph=True)
            cols.append(g.flatten(1)[:, i])
        return torch.stack(cols, 1).sum(1)
    est = []
    for z in probes:
        (g,) = torch.autograd.grad((v * z).sum(), x, create_graph=create_graph, retain_graph=True)
        est.append((g * z).flatten(1).sum(1))
    return torch.stack(est).mean(0)


def gaussian_log_prob(
    z: torch.Tensor, std: float | torch.Tensor = 1.0, event_dims: int | None = None
) -> torch.Tensor:
    """log N(z; 0, diag(std^2)) summed over the last ``event_dims`` axes (default: all but the first);
    ``std`` broadcasts against one event. genlab's one Gaussian log-density: priors, sources, posteriors."""
    event_dims = z.dim() - 1 if event_dims is None else event_dims
    if not 0 < event_dims <= z.dim():
        raise ValueError(f"event_dims must be in [1, z.dim()] = [1, {z.dim()}], got {event_dims}")
    event = z.shape[z.dim() - event_dims :]
    std = torch.as_tensor(std, dtype=z.dtype, device=z.device).expand(event)
    sq = (z / std).flatten(z.dim() - event_dims).square().sum(-1)
    return -0.5 * sq - std.log().sum() - 0.5 * event.numel() * math.log(2 * math.pi)


def log_likelihood(
    velocity: Velocity,
    x: torch.Tensor,
    prior: Callable[[torch.Tensor], torch.Tensor],
    *,
    divergence: str = "exact",
    probes: int = 1,
    t_min: float = 1e-5,
    t_max: float = 1.0,
    method: str = "dopri5",
    atol: float = 1e-5,
    rtol: float = 1e-5,
    create_graph: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """log p(x) in nats per sample (x: [B, ...]) for the flow dx/dt = velocity(x, t) with log-density
    ``prior`` at t_max; the model receives t of shape [B]."""
    from torchdiffeq import odeint

    check_finite(x, "x")
    lookup("divergence", divergence, dict.fromkeys(DIVERGENCES))
    z = None
    if divergence == "hutchinson":
        z = torch.randint(0, 2, (probes, *x.shape), generator=generator, device=x.device).to(x) * 2 - 1

    bar = tqdm(
        total=round(t_max - t_min, 6), desc="likelihood (ODE in t)", leave=False, disable=None, unit="t"
    )

    def f(t, state):
        bar.update(max(0.0, round(float(t) - t_min, 6) - bar.n))  # dopri5 may step back: the bar does not
        y = state[0]
        with torch.enable_grad():
            if not y.requires_grad:
                y = y.detach().requires_grad_(True)
            v = velocity(y, t.to(y).expand(y.shape[:1]))
            div = _divergence(v, y, z, create_graph)
        return (v, div) if create_graph else (v.detach(), div.detach())

    ts = torch.tensor([t_min, t_max], dtype=x.dtype, device=x.device)
    state = (x if create_graph else x.detach(), torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))
    with bar:
        x1, integral = (s[-1] for s in odeint(f, state, ts, method=method, atol=atol, rtol=rtol))
    return prior(x1) + integral
