"""Neural spline flows (Durkan et al., NeurIPS 2019): monotone rational-quadratic splines as the
element-wise transform of an autoregressive flow.

On [-B, B] the spline has K bins with knots (x_k, y_k) and positive derivatives d_k at the knots (d = 1
at both ends, so it joins the identity tails outside [-B, B] smoothly). In bin k, with
xi = (x - x_k) / w_k and slope s_k = h_k / w_k (eq. 4):

    y = y_k + h_k (s_k xi^2 + d_k xi (1 - xi)) / (s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi))

    dy/dx = s_k^2 (d_{k+1} xi^2 + 2 s_k xi (1 - xi) + d_k (1 - xi)^2) / (s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi))^2

and the inverse is the root in [0, 1] of a quadratic in xi (App. A), taken in the numerically stable
form xi = 2c / (-b - sqrt(b^2 - 4ac)).  Widths, heights and inner derivatives are unconstrained
network outputs: softmax for the bins (with a minimum size), softplus for the derivatives, offset so
that all-zero outputs give the identity (MADE's last layer starts at zero).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genlab.core.nflows.base import Bijection
from genlab.core.nflows.made import MADE

MIN_BIN = 1e-3
MIN_DERIVATIVE = 1e-3
_IDENTITY_SOFTPLUS = math.log(math.expm1(1 - MIN_DERIVATIVE))  # softplus(this) + MIN_DERIVATIVE = 1


def _knots(raw: torch.Tensor, bound: float) -> torch.Tensor:
    """Bin sizes from unconstrained [..., K] -> knot positions [..., K + 1] from -bound to bound."""
    k = raw.shape[-1]
    sizes = MIN_BIN + (1 - MIN_BIN * k) * torch.softmax(raw, -1)
    inner = torch.cumsum(sizes, -1)[..., :-1] * 2 * bound - bound
    edge = inner.new_full((*inner.shape[:-1], 1), bound)
    return torch.cat([-edge, inner, edge], -1)  # the ends exactly at +-bound, whatever the rounding


def rational_quadratic(
    x: torch.Tensor, params: torch.Tensor, bound: float, inverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The spline (or its inverse) applied element-wise: x [...], params [..., 3K - 1] (K width logits,
    K height logits, K - 1 inner derivative pre-activations) -> (y [...], log |dy/dx| [...] of this map)."""
    k = (params.shape[-1] + 1) // 3
    if params.shape[-1] != 3 * k - 1:
        raise ValueError(f"spline parameters must number 3K - 1, got {params.shape[-1]}")
    xs = _knots(params[..., :k], bound)
    ys = _knots(params[..., k : 2 * k], bound)
    inner = MIN_DERIVATIVE + F.softplus(params[..., 2 * k :] + _IDENTITY_SOFTPLUS)
    d = F.pad(inner, (1, 1), value=1.0)
    inside = (x > -bound) & (x < bound)
    v = x.clamp(-bound, bound)
    edges = ys if inverse else xs
    b = torch.searchsorted(edges[..., 1:-1].contiguous(), v[..., None].contiguous())  # bin index 0..K-1

    def at(t: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return t.gather(-1, b + offset)[..., 0]

    x_k, w = at(xs), at(xs, 1) - at(xs)
    y_k, h = at(ys), at(ys, 1) - at(ys)
    d_k, d_k1 = at(d), at(d, 1)
    s, curvature = h / w, d_k1 + d_k - 2 * h / w
    if inverse:  # the root in [0, 1] of a xi^2 + b xi + c = 0 (App. A)
        dy = v - y_k
        a, bq, c = h * (s - d_k) + dy * curvature, h * d_k - dy * curvature, -s * dy
        xi = (2 * c / (-bq - torch.sqrt((bq**2 - 4 * a * c).clamp_min(0)))).clamp(0, 1)
    else:
        xi = ((v - x_k) / w).clamp(0, 1)
    denom = s + curvature * xi * (1 - xi)
    out = x_k + xi * w if inverse else y_k + h * (s * xi**2 + d_k * xi * (1 - xi)) / denom
    deriv = s**2 * (d_k1 * xi**2 + 2 * s * xi * (1 - xi) + d_k * (1 - xi) ** 2) / denom**2
    log_deriv = torch.log(deriv) * (-1 if inverse else 1)
    return torch.where(inside, out, x), torch.where(inside, log_deriv, torch.zeros_like(x))


class NSF(Bijection):
    """Autoregressive rational-quadratic spline layer (RQ-NSF (AR)), MAF's direction: one MADE pass for
    ``forward`` (data -> base), D sequential passes for ``inverse``. Identity outside [-bound, bound]."""

    def __init__(
        self,
        features: int,
        hidden: int = 64,
        depth: int = 2,
        bins: int = 8,
        bound: float = 5.0,
        context_features: int = 0,
        order: torch.Tensor | None = None,
    ):
        super().__init__()
        if bins < 1 or bound <= 0:
            raise ValueError(f"need bins >= 1 and bound > 0, got {bins}, {bound}")
        self.features, self.bins, self.bound = features, bins, bound
        self.made = MADE(features, hidden, depth, 3 * bins - 1, context_features, order)

    def _params(self, u: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return self.made(u, context).transpose(1, 2)  # [B, D, 3K - 1]

    def forward(self, x, context=None):
        z, log_deriv = rational_quadratic(x, self._params(x, context), self.bound)
        return z, log_deriv.sum(1)

    def inverse(self, z, context=None):
        x = torch.zeros_like(z)
        for _ in range(self.features):  # after pass k every entry of degree <= k is exact
            x, log_deriv = rational_quadratic(z, self._params(x, context), self.bound, inverse=True)
        return x, log_deriv.sum(1)
