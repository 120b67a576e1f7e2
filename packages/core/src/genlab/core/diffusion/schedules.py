"""Noise schedules x_t = alpha(t) x0 + sigma(t) eps, described through their logSNR.

t in [0, 1] is the noise level: t = 0 is clean data (alpha = 1, sigma = 0), t = 1 is (nearly) pure
noise. Every schedule is an affine path, so the same object serves diffusion (VP, VE) and flow
matching (rectified flow) and the converters in ``parameterization`` need only (alpha, sigma) and
their time derivatives.

logSNR lambda(t) = log(alpha^2 / sigma^2) (Kingma et al., VDM) is the coordinate that the modifiers
act on. A *family* maps lambda back to (alpha, sigma) with a fixed scale rule:
  vp   alpha^2 = sigmoid(lambda), sigma^2 = sigmoid(-lambda)   (DDPM, cosine, sigmoid)
  ve   alpha = 1, sigma = exp(-lambda / 2)                      (EDM; Karras et al. 2022)
  flow alpha + sigma = 1                                        (rectified flow; Liu et al. 2023)
so a shifted schedule stays in its family (a shifted rectified flow is SD3's time shift).

Built-ins: linear-beta (DDPM, Ho et al. 2020, continuous as in Song et al. 2021), cosine (Nichol &
Dhariwal; clipped in logSNR as in simple diffusion), sigmoid (Chen 2023), EDM (Karras et al. 2022),
rectified flow. Modifiers: resolution shift lambda + 2 log(base/res) and its interpolated form
(Hoogeboom et al., simple diffusion), input scaling by b (Chen 2023), zero terminal SNR (Lin et al.
2024).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims, check_time

Pair = tuple[torch.Tensor, torch.Tensor]


def _dt(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Elementwise dy/dt of a function computed elementwise from t (zeros if y ignores t)."""
    if not y.requires_grad:
        return torch.zeros_like(t)
    (g,) = torch.autograd.grad(y.sum(), t, retain_graph=True, allow_unused=True)
    return torch.zeros_like(t) if g is None else g


def _vp(lam: torch.Tensor) -> Pair:
    return torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()


def _vp_d(lam: torch.Tensor) -> Pair:
    a, s = _vp(lam)
    return a * s**2 / 2, -s * a**2 / 2


def _ve(lam: torch.Tensor) -> Pair:
    return torch.ones_like(lam), torch.exp(-lam / 2)


def _ve_d(lam: torch.Tensor) -> Pair:
    return torch.zeros_like(lam), -torch.exp(-lam / 2) / 2


def _flow(lam: torch.Tensor) -> Pair:
    return torch.sigmoid(lam / 2), torch.sigmoid(-lam / 2)


def _flow_d(lam: torch.Tensor) -> Pair:
    a, s = _flow(lam)
    return a * s / 2, -a * s / 2


FAMILIES: dict[str, tuple[Callable[[torch.Tensor], Pair], Callable[[torch.Tensor], Pair]]] = {
    "vp": (_vp, _vp_d),
    "ve": (_ve, _ve_d),
    "flow": (_flow, _flow_d),
}


class Schedule:
    """An affine noising path x_t = alpha(t) x0 + sigma(t) eps with t in [0, 1].

    Subclasses define ``alpha_sigma``; they may override ``d_alpha_sigma`` (autograd otherwise) and
    ``t_from_logsnr`` (bisection otherwise). ``family`` names the lambda -> (alpha, sigma) rule used
    by the logSNR modifiers, or is None when there is none.
    """

    family: str | None = None

    def alpha_sigma(self, t: torch.Tensor) -> Pair:
        raise NotImplementedError

    def d_alpha_sigma(self, t: torch.Tensor) -> Pair:
        """(d alpha / dt, d sigma / dt), by autograd unless a schedule knows them in closed form."""
        with torch.enable_grad():
            tg = t.detach().requires_grad_(True)
            a, s = self.alpha_sigma(tg)
            return _dt(a, tg).detach(), _dt(s, tg).detach()

    def logsnr(self, t: torch.Tensor) -> torch.Tensor:
        a, s = self.alpha_sigma(t)
        return 2 * (a.log() - s.log())

    def dlogsnr(self, t: torch.Tensor) -> torch.Tensor:
        """d lambda / dt = 2 (alpha'/alpha - sigma'/sigma)."""
        a, s = self.alpha_sigma(t)
        da, ds = self.d_alpha_sigma(t)
        return 2 * (da / a - ds / s)

    def t_from_logsnr(self, lam: torch.Tensor) -> torch.Tensor:
        """The t in [0, 1] with logsnr(t) = lam (clamped to the schedule's range), by bisection."""
        lam64 = lam.to(torch.float64)
        lo, hi = torch.zeros_like(lam64), torch.ones_like(lam64)
        for _ in range(60):
            mid = (lo + hi) / 2
            above = self.logsnr(mid) > lam64  # logSNR falls with t
            lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
        return ((lo + hi) / 2).to(lam.dtype)

    def add_noise(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = alpha(t) x0 + sigma(t) eps, with t of a prefix shape of x0."""
        check_time(t, x0)
        a, s = self.alpha_sigma(t)
        return append_dims(a, x0.ndim) * x0 + append_dims(s, x0.ndim) * eps

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class LinearBeta(Schedule):
    """DDPM's linear beta (1e-4 .. 0.02 over 1000 steps), continuous: beta(t) = b0 + t (b1 - b0).

    alpha^2 = exp(-int_0^t beta) (Song et al. 2021, VP-SDE), so lambda = -log(expm1(int beta)).
    """

    family = "vp"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.beta_min, self.beta_max = beta_min, beta_max

    def _integral(self, t):
        return self.beta_min * t + (self.beta_max - self.beta_min) * t**2 / 2

    def alpha_sigma(self, t):
        i = self._integral(t)
        return torch.exp(-i / 2), torch.sqrt(-torch.expm1(-i))

    def d_alpha_sigma(self, t):
        a, s = self.alpha_sigma(t)
        beta = self.beta_min + (self.beta_max - self.beta_min) * t
        return -beta * a / 2, beta * a**2 / (2 * s)

    def logsnr(self, t):
        return -torch.log(torch.expm1(self._integral(t)))

    def t_from_logsnr(self, lam):
        i = torch.nn.functional.softplus(-lam)  # expm1(i) = exp(-lam)
        d = self.beta_max - self.beta_min
        # the root of beta_min t + d t^2 / 2 = i, rationalised so that d = 0 (constant beta, OU) works
        t = 2 * i / (self.beta_min + torch.sqrt(self.beta_min**2 + 2 * d * i))
        return t.clamp(0, 1)


class Cosine(Schedule):
    """alpha = cos(a t + b), sigma = sin(a t + b): lambda = -2 log tan(a t + b) (Nichol & Dhariwal).

    a, b clip lambda to [logsnr_min, logsnr_max] (simple diffusion); the default keeps t = 0 exactly
    clean and leaves alpha(1) = exp(-7.5) > 0 so that eps-models stay invertible at t = 1.
    """

    family = "vp"

    def __init__(self, logsnr_min: float = -15.0, logsnr_max: float = math.inf):
        self.logsnr_min, self.logsnr_max = logsnr_min, logsnr_max
        self._b = math.atan(math.exp(-logsnr_max / 2))
        self._a = math.atan(math.exp(-logsnr_min / 2)) - self._b

    def alpha_sigma(self, t):
        u = self._a * t + self._b
        return torch.cos(u), torch.sin(u)

    def d_alpha_sigma(self, t):
        u = self._a * t + self._b
        return -self._a * torch.sin(u), self._a * torch.cos(u)

    def logsnr(self, t):
        return -2 * torch.log(torch.tan(self._a * t + self._b))

    def t_from_logsnr(self, lam):
        return ((torch.atan(torch.exp(-lam / 2)) - self._b) / self._a).clamp(0, 1)


class Sigmoid(Schedule):
    """Chen (2023): alpha^2 = (v_end - sigmoid((t (end - start) + start) / tau)) / (v_end - v_start).

    v_start, v_end are sigmoid(start / tau), sigmoid(end / tau); alpha^2 is clipped below at clip_min.
    """

    family = "vp"

    def __init__(self, start: float = -3.0, end: float = 3.0, tau: float = 1.0, clip_min: float = 1e-9):
        self.start, self.end, self.tau, self.clip_min = start, end, tau, clip_min
        self._v0, self._v1 = 1 / (1 + math.exp(-start / tau)), 1 / (1 + math.exp(-end / tau))

    def _gamma(self, t):
        v = torch.sigmoid((t * (self.end - self.start) + self.start) / self.tau)
        return ((self._v1 - v) / (self._v1 - self._v0)).clamp(self.clip_min, 1)

    def alpha_sigma(self, t):
        g = self._gamma(t)
        return g.sqrt(), (1 - g).sqrt()

    def logsnr(self, t):
        g = self._gamma(t)
        return g.log() - torch.log1p(-g)

    def t_from_logsnr(self, lam):
        v = self._v1 - torch.sigmoid(lam) * (self._v1 - self._v0)
        return ((self.tau * torch.logit(v) - self.start) / (self.end - self.start)).clamp(0, 1)


class EDM(Schedule):
    """Karras et al. (2022): alpha = 1, sigma(t) = (s_min^(1/rho) + t (s_max^(1/rho) - s_min^(1/rho)))^rho.

    With the default sigma_min = 0, t = 0 is exactly clean and a uniform grid in t from 1 to
    t(0.002) is EDM's sampling grid (see ``genlab.core.grids.karras_grid``).
    """

    family = "ve"

    def __init__(self, sigma_max: float = 80.0, rho: float = 7.0, sigma_min: float = 0.0):
        self.sigma_max, self.rho, self.sigma_min = sigma_max, rho, sigma_min
        self._lo, self._hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)

    def alpha_sigma(self, t):
        return torch.ones_like(t), (self._lo + t * (self._hi - self._lo)) ** self.rho

    def d_alpha_sigma(self, t):
        u = self._lo + t * (self._hi - self._lo)
        return torch.zeros_like(t), self.rho * u ** (self.rho - 1) * (self._hi - self._lo)

    def t_from_logsnr(self, lam):
        return ((torch.exp(-lam / (2 * self.rho)) - self._lo) / (self._hi - self._lo)).clamp(0, 1)


class RectifiedFlow(Schedule):
    """alpha = 1 - t, sigma = t (Liu et al. 2023; Lipman et al.'s conditional OT path)."""

    family = "flow"

    def alpha_sigma(self, t):
        return 1 - t, t

    def d_alpha_sigma(self, t):
        return -torch.ones_like(t), torch.ones_like(t)

    def t_from_logsnr(self, lam):
        return torch.sigmoid(-lam / 2)


class Affine(Schedule):
    """Any path from two callables alpha(t), sigma(t); derivatives by autograd, inverse by bisection."""

    def __init__(
        self, alpha: Callable[[torch.Tensor], torch.Tensor], sigma: Callable[[torch.Tensor], torch.Tensor]
    ):
        self.alpha, self.sigma = alpha, sigma

    def alpha_sigma(self, t):
        return self.alpha(t), self.sigma(t)


class Shifted(Schedule):
    """lambda'(t) = lambda(t) + shift(t), mapped back through the base schedule's family.

    ``shift(t) = shift + t (shift_end - shift)``: constant by default, linear in t for simple
    diffusion's interpolated schedule.
    """

    def __init__(self, base: Schedule, shift: float, shift_end: float | None = None):
        if base.family not in FAMILIES:
            raise ValueError(f"cannot shift {type(base).__name__}: it has no logSNR family (vp, ve or flow)")
        self.base, self.shift = base, shift
        self.shift_end = shift if shift_end is None else shift_end
        self.family = base.family

    def _shift(self, t):
        return self.shift + t * (self.shift_end - self.shift)

    def logsnr(self, t):
        return self.base.logsnr(t) + self._shift(t)

    def alpha_sigma(self, t):
        return FAMILIES[self.family][0](self.logsnr(t))

    def d_alpha_sigma(self, t):
        da, ds = FAMILIES[self.family][1](self.logsnr(t))
        dlam = self.base.dlogsnr(t) + (self.shift_end - self.shift)
        return da * dlam, ds * dlam

    def t_from_logsnr(self, lam):
        if self.shift_end != self.shift:
            return super().t_from_logsnr(lam)
        return self.base.t_from_logsnr(lam - self.shift)


class ZeroTerminalSNR(Schedule):
    """Lin et al. (2024): rescale alpha so that alpha(1) = 0 while alpha(0) is kept (VP only).

    alpha~ = (alpha - alpha(1)) alpha(0) / (alpha(0) - alpha(1)), sigma~ = sqrt(1 - alpha~^2).
    """

    family = "vp"

    def __init__(self, base: Schedule):
        if base.family != "vp":
            raise ValueError(
                f"zero terminal SNR needs a variance-preserving schedule, got {type(base).__name__}"
            )
        self.base = base
        a0, _ = base.alpha_sigma(torch.zeros((), dtype=torch.float64))
        a1, _ = base.alpha_sigma(torch.ones((), dtype=torch.float64))
        self._a1, self._scale = a1.item(), (a0 / (a0 - a1)).item()

    def alpha_sigma(self, t):
        a = (self.base.alpha_sigma(t)[0] - self._a1) * self._scale
        return a, (1 - a**2).clamp_min(0).sqrt()

    def d_alpha_sigma(self, t):
        a, s = self.alpha_sigma(t)
        da = self.base.d_alpha_sigma(t)[0] * self._scale
        return da, -a * da / s


def resolution_shift(base: Schedule, resolution: float, base_resolution: float = 64.0) -> Shifted:
    """Simple diffusion: lambda + 2 log(base_resolution / resolution), noisier for larger images."""
    return Shifted(base, 2 * math.log(base_resolution / resolution))


def interpolated_shift(
    base: Schedule, resolution: float, low: float = 32.0, high: float | None = None
) -> Shifted:
    """Simple diffusion's interpolated schedule: the shift for ``high`` (default: the resolution
    itself, i.e. no shift) at t = 0, moving linearly to the shift for ``low`` at t = 1."""
    high = resolution if high is None else high
    return Shifted(base, 2 * math.log(high / resolution), 2 * math.log(low / resolution))


def input_scaling(base: Schedule, b: float) -> Shifted:
    """Chen (2023): x_t = alpha b x0 + sigma eps, renormalised to unit variance, is exactly the
    variance-preserving schedule with logSNR shifted by 2 log b."""
    return Shifted(base, 2 * math.log(b))


SCHEDULES: dict[str, type[Schedule]] = {
    "linear": LinearBeta,
    "cosine": Cosine,
    "sigmoid": Sigmoid,
    "edm": EDM,
    "rectified_flow": RectifiedFlow,
}


def get_schedule(name: str | Schedule, **kwargs) -> Schedule:
    """A built-in schedule by name (``SCHEDULES``); a Schedule instance passes through."""
    if isinstance(name, Schedule):
        return name
    return lookup("schedule", name, SCHEDULES)(**kwargs)
