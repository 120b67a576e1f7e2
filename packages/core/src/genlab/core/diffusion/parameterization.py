"""What a network predicts, and exact conversions between the kinds.

With x = alpha x0 + sigma eps (``schedules``), a prediction of one kind fixes every other kind in
closed form given (x, t, schedule):
  eps       the noise (Ho et al. 2020)
  x0        the clean data, i.e. the denoiser D(x, t) = E[x0 | x_t] (Karras et al. 2022)
  v         alpha eps - sigma x0 (Salimans & Ho 2022, progressive distillation)
  score     grad log p_t(x) = -eps / sigma (Song et al. 2021)
  velocity  dx_t/dt = alpha' x0 + sigma' eps, the probability-flow ODE drift (Lipman et al. 2023)
Each kind is an invertible affine map of (x0, eps) at fixed x, so every conversion goes through that
pair. ``Denoiser`` wraps ``model(x_t, t, **cond)`` of a declared kind and serves all kinds.
``EDMPrecond`` is Karras et al.'s preconditioning (c_skip, c_out, c_in, c_noise); with sigma_min > 0
it is the consistency-model boundary parameterisation (Song et al. 2023).
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.diffusion.schedules import Schedule
from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims, check_finite, check_time

KINDS = ("eps", "x0", "v", "score", "velocity")


def _coeffs(schedule: Schedule, t: torch.Tensor, ndim: int, derivative: bool = False):
    pair = schedule.d_alpha_sigma(t) if derivative else schedule.alpha_sigma(t)
    return tuple(append_dims(c, ndim) for c in pair)


def _from_eps(p, x, t, sch):
    a, s = _coeffs(sch, t, x.ndim)
    return (x - s * p) / a, p


def _from_x0(p, x, t, sch):
    a, s = _coeffs(sch, t, x.ndim)
    return p, (x - a * p) / s


def _from_v(p, x, t, sch):
    a, s = _coeffs(sch, t, x.ndim)
    n = a**2 + s**2  # 1 for variance-preserving schedules
    return (a * x - s * p) / n, (s * x + a * p) / n


def _from_score(p, x, t, sch):
    _, s = _coeffs(sch, t, x.ndim)
    return _from_eps(-s * p, x, t, sch)


def _from_velocity(p, x, t, sch):
    a, s = _coeffs(sch, t, x.ndim)
    da, ds = _coeffs(sch, t, x.ndim, derivative=True)
    det = a * ds - s * da
    return (ds * x - s * p) / det, (a * p - da * x) / det


def _to_eps(x0, eps, x, t, sch):
    return eps


def _to_x0(x0, eps, x, t, sch):
    return x0


def _to_v(x0, eps, x, t, sch):
    a, s = _coeffs(sch, t, x.ndim)
    return a * eps - s * x0


def _to_score(x0, eps, x, t, sch):
    _, s = _coeffs(sch, t, x.ndim)
    return -eps / s


def _to_velocity(x0, eps, x, t, sch):
    da, ds = _coeffs(sch, t, x.ndim, derivative=True)
    return da * x0 + ds * eps


_FROM = {"eps": _from_eps, "x0": _from_x0, "v": _from_v, "score": _from_score, "velocity": _from_velocity}
_TO = {"eps": _to_eps, "x0": _to_x0, "v": _to_v, "score": _to_score, "velocity": _to_velocity}


def check_kind(kind: str) -> str:
    lookup("prediction kind", kind, _FROM)
    return kind


def to_x0_eps(pred: torch.Tensor, kind: str, x: torch.Tensor, t: torch.Tensor, schedule: Schedule):
    """The pair (x0, eps) that a prediction of ``kind`` at (x, t) implies."""
    return lookup("prediction kind", kind, _FROM)(pred, x, t, schedule)


def from_x0_eps(
    x0: torch.Tensor, eps: torch.Tensor, kind: str, x: torch.Tensor, t: torch.Tensor, schedule: Schedule
):
    """The prediction of ``kind`` made of (x0, eps); also the regression target in training."""
    return lookup("prediction kind", kind, _TO)(x0, eps, x, t, schedule)


def convert(pred: torch.Tensor, src: str, dst: str, x: torch.Tensor, t: torch.Tensor, schedule: Schedule):
    """A prediction of kind ``src`` at (x, t) as a prediction of kind ``dst``."""
    check_kind(dst)
    if check_kind(src) == dst:
        return pred
    return from_x0_eps(*to_x0_eps(pred, src, x, t, schedule), dst, x, t, schedule)


class Denoiser(nn.Module):
    """``model(x_t, t, **cond)`` predicting ``kind`` under ``schedule``, seen as any kind.

    ``raw`` is the model's own prediction (wrappers such as guidance override it); ``predict`` and
    the named views convert it. ``forward`` is ``raw``, so a Denoiser is itself a model.
    """

    def __init__(self, model: nn.Module, schedule: Schedule, kind: str = "eps"):
        super().__init__()
        self.model, self.schedule, self.kind = model, schedule, check_kind(kind)

    def raw(self, x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        out = self.model(x, t, **cond)
        if out.shape != x.shape:
            raise ValueError(f"model returned shape {tuple(out.shape)} for x of shape {tuple(x.shape)}")
        return out

    def forward(self, x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        return self.raw(x, t, **cond)

    def _checked_raw(self, x: torch.Tensor, t: torch.Tensor, check: bool, cond: dict) -> torch.Tensor:
        check_time(t, x)
        if check:  # samplers pass False: they check x once per run, not at every call (a device sync)
            check_finite(x, "x")
        return self.raw(x, t, **cond)

    def predict(self, x: torch.Tensor, t: torch.Tensor, kind: str, *, check: bool = True, **cond):
        return convert(self._checked_raw(x, t, check, cond), self.kind, kind, x, t, self.schedule)

    def x0_eps(self, x: torch.Tensor, t: torch.Tensor, *, check: bool = True, **cond):
        return to_x0_eps(self._checked_raw(x, t, check, cond), self.kind, x, t, self.schedule)

    def x0(self, x, t, **cond):
        return self.predict(x, t, "x0", **cond)

    def eps(self, x, t, **cond):
        return self.predict(x, t, "eps", **cond)

    def v(self, x, t, **cond):
        return self.predict(x, t, "v", **cond)

    def score(self, x, t, **cond):
        return self.predict(x, t, "score", **cond)

    def velocity(self, x, t, **cond):
        return self.predict(x, t, "velocity", **cond)


def edm_scalings(alpha: torch.Tensor, sigma: torch.Tensor, sigma_data: float = 0.5, sigma_min: float = 0.0):
    """Karras et al. (2022) Table 1 in the variable x / alpha with s = sigma / alpha, written in
    (alpha, sigma) so that alpha = 0 stays finite:

    c_skip = sd^2 / ((s - s_min)^2 + sd^2) (acting on x / alpha), c_out = (s - s_min) sd / sqrt(s^2 + sd^2),
    c_in = 1 / sqrt(s^2 + sd^2) (acting on x / alpha), c_noise = log(s) / 4. Returned as the factors
    on x itself: (c_skip / alpha, c_out, c_in / alpha, c_noise). s_min = 0 is EDM; s_min > 0 is the
    consistency-model boundary condition f(x, t_min) = x (Song et al. 2023).
    """
    sd2 = sigma_data**2
    gap = sigma - sigma_min * alpha  # alpha (s - s_min)
    norm = sigma**2 + alpha**2 * sd2  # alpha^2 (s^2 + sd^2)
    c_skip = sd2 * alpha / (gap**2 + alpha**2 * sd2)
    c_out = gap * sigma_data / norm.sqrt()
    c_in = 1 / norm.sqrt()
    c_noise = (0.25 * (sigma.log() - alpha.log())).clamp(-10, 10)  # finite at both ends
    return c_skip, c_out, c_in, c_noise


class EDMPrecond(nn.Module):
    """x0 = c_skip x + c_out net(c_in x, c_noise, **cond): an x0-model whose net sees unit-variance
    input and a unit-variance target at every noise level (Karras et al. 2022, Sec. 5)."""

    def __init__(self, net: nn.Module, schedule: Schedule, sigma_data: float = 0.5, sigma_min: float = 0.0):
        super().__init__()
        self.net, self.schedule, self.sigma_data, self.sigma_min = net, schedule, sigma_data, sigma_min

    def forward(self, x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        alpha, sigma = self.schedule.alpha_sigma(t)
        c_skip, c_out, c_in, c_noise = edm_scalings(alpha, sigma, self.sigma_data, self.sigma_min)
        f = self.net(append_dims(c_in, x.ndim) * x, c_noise, **cond)
        return append_dims(c_skip, x.ndim) * x + append_dims(c_out, x.ndim) * f
