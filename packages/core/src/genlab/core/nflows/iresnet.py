"""Invertible residual blocks (Behrmann et al. 2019, "Invertible Residual Networks").

y = x + g(x) is invertible when Lip(g) < 1 (section 2).  g = c * (W_L o ELU o ... o W_1) with every
W_i spectrally normalised (``torch.nn.utils.parametrizations.spectral_norm``: W / sigma_max(W) by power
iteration) and ELU 1-Lipschitz, so Lip(g) <= c.

- Inverse (Algorithm 1): the fixed-point iteration x <- y - g(x) from x = y, which converges
  geometrically, |x_k - x*| <= c^k |x_0 - x*| (Banach).  It runs without gradient: the inverse is for
  sampling, not for training through.  In training mode every call also advances spectral_norm's power
  iteration, which moves the weights a little; call ``.eval()`` before sampling for exact round trips.
- Log-det (eq. 6-8): ln det(I + J_g) = sum_{k>=1} (-1)^(k+1) tr(J_g^k) / k, truncated at ``terms``,
  each trace estimated by Hutchinson, tr(A) ~ v^T A v with v ~ N(0, I) (``probes`` of them), where
  v^T J^k is k vector-Jacobian products.  ``probes=None`` uses the basis vectors, giving exact traces;
  ``exact=True`` takes slogdet(I + J_g) of the full Jacobian (D products), for small D.
- ``refresh_norms(iters)`` reruns the power iteration to convergence.  Needed after weight averaging
  (an EMA copy): the averaged singular-vector estimates u, v are no longer unit singular vectors of
  the averaged weights, so sigma = u^T W v is wrong and the bound Lip(g) <= c no longer holds.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from genlab.core.nflows.base import Bijection, check_features


class ResidualBlock(Bijection):
    """y = x + g(x) on [B, features] vectors, Lip(g) <= c < 1; see the module docstring for the knobs."""

    def __init__(
        self,
        features: int,
        hidden: int = 64,
        depth: int = 2,
        c: float = 0.9,
        terms: int = 5,
        probes: int | None = 1,
        exact: bool = False,
        n_power_iterations: int = 1,
        inverse_iters: int = 100,
        atol: float = 1e-7,
    ):
        super().__init__()
        if not 0 < c < 1:
            raise ValueError(f"the Lipschitz bound c must lie in (0, 1) for invertibility, got {c}")
        self.features, self.c = features, c
        self.terms, self.probes, self.exact = terms, probes, exact
        self.inverse_iters, self.atol = inverse_iters, atol
        sizes = [features] + [hidden] * depth + [features]
        layers: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [spectral_norm(nn.Linear(a, b), n_power_iterations=n_power_iterations), nn.ELU()]
        self.net = nn.Sequential(*layers[:-1])

    @torch.no_grad()
    def refresh_norms(self, iters: int = 100) -> None:
        """Run ``iters`` power iterations on every spectrally normalised weight (see the module doc)."""
        for layer in self.net:
            if parametrize.is_parametrized(layer, "weight"):
                norm = layer.parametrizations.weight[0]
                was_training = norm.training
                norm.train()
                for _ in range(iters):
                    norm(layer.parametrizations.weight.original)  # one power iteration in training mode
                norm.train(was_training)

    def g(self, x: torch.Tensor) -> torch.Tensor:
        return self.c * self.net(x)

    def _vjp(self, gx, x, w, create_graph):
        return torch.autograd.grad(gx, x, w, retain_graph=True, create_graph=create_graph)[0]

    def _probes(self, x: torch.Tensor) -> torch.Tensor:
        if self.probes is None:
            eye = torch.eye(self.features, dtype=x.dtype, device=x.device) * self.features**0.5
            return eye[:, None, :].expand(-1, x.shape[0], -1)
        return torch.randn(self.probes, *x.shape, dtype=x.dtype, device=x.device)

    def _series(self, x, gx, create_graph):
        probes = self._probes(x)
        total = x.new_zeros(x.shape[0])
        for v in probes:
            w = v
            for k in range(1, self.terms + 1):
                w = self._vjp(gx, x, w, create_graph)
                total = total + (-1) ** (k + 1) / k * (w * v).sum(1)
        return total / len(probes)

    def _exact(self, x, gx, create_graph):
        eye = torch.eye(self.features, dtype=x.dtype, device=x.device)
        rows = [self._vjp(gx, x, eye[i].expand_as(x), create_graph) for i in range(self.features)]
        return torch.linalg.slogdet(eye + torch.stack(rows, 1))[1]

    def forward(self, x, context=None):
        check_features(x, 2, self.features)
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            x_in = x if x.requires_grad else x.detach().requires_grad_()
            gx = self.g(x_in)
            logdet = (self._exact if self.exact else self._series)(x_in, gx, create_graph)
        y = x + gx
        return (y, logdet) if create_graph else (y.detach(), logdet.detach())

    @torch.no_grad()
    def fixed_point(self, y: torch.Tensor, iters: int, atol: float = 0.0) -> torch.Tensor:
        """Behrmann's Algorithm 1: x <- y - g(x), ``iters`` times or until the update is below ``atol``."""
        x = y
        for _ in range(iters):
            x_next = y - self.g(x)
            done = (x_next - x).abs().max() <= atol
            x = x_next
            if done:
                break
        return x

    def inverse(self, z, context=None):
        check_features(z, 2, self.features, name="z")
        with parametrize.cached():  # one spectral-norm estimate for every iteration and the log-det
            x = self.fixed_point(z, self.inverse_iters, self.atol)
            return x, -self(x)[1]
