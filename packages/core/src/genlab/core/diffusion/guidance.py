"""Guidance as denoiser wrappers, so that every sampler and SDS accept guided models unchanged.

Classifier-free guidance (Ho & Salimans 2021): eps~ = (1 + w) eps(x, c) - w eps(x, null). Scale
convention: **w = 0 is the conditional model alone** (the paper's w; diffusers' guidance_scale is
1 + w), which makes one pass; otherwise both passes run as one batch. Every kind is affine in the
model output at fixed (x, t), so the combination is done in the model's own kind and equals the
combination in eps. Options: a guidance interval in t (Kynkaanniemi et al. 2024) and the rescale of Lin et al. (2024, Sec. 3.4),
which matches the guided output's standard deviation to the conditional one's.

Gradient guidance adds scale * grad_x f to the score, i.e. eps~ = eps - sigma * scale * grad_x f
(classifier guidance, Dhariwal & Nichol 2021; Diffuser's value guidance, Janner et al. 2022), with
f evaluated at x_t (``through='x'``), at the denoised x0_hat(x_t) with the gradient taken through
the denoiser (``through='x0'``; Chung et al. 2022), or as the Monte-Carlo estimate
log mean_n exp f(x0_hat + r_t z_n), r_t = sigma / sqrt(alpha^2 + sigma^2) (Song et al. 2023, LGD-MC).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from genlab.core.diffusion.parameterization import Denoiser, convert
from genlab.core.lookup import lookup
from genlab.core.tensors import append_dims


class ClassifierFreeGuidance(Denoiser):
    """raw = c + w (c - u), c and u the predictions with ``cond`` and with ``null`` in its place.

    ``null`` maps condition names to their null value (a tensor shaped like the condition, or a
    fill value such as the "no label" index); conditions not named there are shared by both passes.
    """

    def __init__(
        self,
        denoiser: Denoiser,
        scale: float,
        null: Mapping[str, Any],
        interval: tuple[float, float] = (0.0, 1.0),
        rescale: float = 0.0,
    ):
        super().__init__(denoiser, denoiser.schedule, denoiser.kind)
        self.scale, self.null, self.interval, self.rescale = scale, dict(null), interval, rescale

    def _check(self, cond: dict) -> None:
        missing = set(self.null) - set(cond)
        if missing:
            raise ValueError(f"classifier-free guidance needs the conditions {sorted(missing)}")

    def _batched(self, cond: dict, n: int) -> dict:
        self._check(cond)
        both = {}
        for k, v in cond.items():
            if k in self.null:
                u = torch.as_tensor(self.null[k], dtype=v.dtype, device=v.device).expand_as(v)
                both[k] = torch.cat([v, u])
            elif isinstance(v, torch.Tensor) and v.ndim > 0 and v.shape[0] == n:
                both[k] = torch.cat([v, v])
            else:
                both[k] = v
        return both

    def raw(self, x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        if self.scale == 0:  # the conditional model alone: one pass, not two
            self._check(cond)
            return self.model.raw(x, t, **cond)
        n = x.shape[0]
        c, u = self.model.raw(torch.cat([x, x]), torch.cat([t, t]), **self._batched(cond, n)).split(n)
        inside = (t >= self.interval[0]) & (t <= self.interval[1])
        w = append_dims(torch.where(inside, self.scale, 0.0).to(x), x.ndim)
        out = c + w * (c - u)
        if self.rescale:
            dims = tuple(range(t.ndim, x.ndim))
            if not dims:
                raise ValueError("guidance rescale needs data axes beyond t's axes")
            factor = c.std(dims, keepdim=True) / out.std(dims, keepdim=True)
            out = self.rescale * factor * out + (1 - self.rescale) * out
        return out


GRAD_MODES = ("x", "x0")


class GradientGuidance(Denoiser):
    """Adds ``scale * grad_x f`` to the score; ``fn(x, t, **cond)`` returns one value per sample.

    ``through='x'`` differentiates f at x_t; ``through='x0'`` differentiates f(x0_hat(x_t)) through
    the denoiser; ``mc_samples > 0`` (with 'x0') uses the Monte-Carlo estimate of log E[exp f(x0)].
    """

    def __init__(
        self,
        denoiser: Denoiser,
        fn: Callable[..., torch.Tensor],
        scale: float = 1.0,
        through: str = "x",
        mc_samples: int = 0,
        generator: torch.Generator | None = None,
    ):
        super().__init__(denoiser, denoiser.schedule, denoiser.kind)
        lookup("gradient-guidance mode", through, dict.fromkeys(GRAD_MODES))
        if mc_samples and through != "x0":
            raise ValueError("Monte-Carlo guidance averages over x0; use through='x0'")
        self.fn, self.scale, self.through, self.mc_samples, self.generator = (
            fn,
            scale,
            through,
            mc_samples,
            generator,
        )

    def _value(self, pred: torch.Tensor, x: torch.Tensor, t: torch.Tensor, cond: dict) -> torch.Tensor:
        if self.through == "x":
            return self.fn(x, t, **cond)
        x0 = convert(pred, self.kind, "x0", x, t, self.schedule)
        if not self.mc_samples:
            return self.fn(x0, t, **cond)
        a, s = self.schedule.alpha_sigma(t)
        r = append_dims(s / (a**2 + s**2).sqrt(), x.ndim)
        draws = [
            self.fn(
                x0 + r * torch.randn(x.shape, generator=self.generator, dtype=x.dtype, device=x.device),
                t,
                **cond,
            )
            for _ in range(self.mc_samples)
        ]
        return torch.logsumexp(torch.stack(draws), 0) - math.log(self.mc_samples)

    def raw(self, x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            with torch.set_grad_enabled(self.through == "x0"):
                pred = self.model.raw(xg, t, **cond)
            (g,) = torch.autograd.grad(self._value(pred, xg, t, cond).sum(), xg)
        _, s = self.schedule.alpha_sigma(t)
        eps = (
            convert(pred.detach(), self.kind, "eps", x, t, self.schedule)
            - self.scale * append_dims(s, x.ndim) * g
        )
        return convert(eps, "eps", self.kind, x, t, self.schedule)
