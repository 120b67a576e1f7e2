"""A normalizing flow: bijections over a base distribution, with both KL objectives.

Change of variables (Rezende & Mohamed 2015, eq. 5-7; Papamakarios et al. 2021): with
z = T(x) the normalising map (``forward``), log p(x) = log p_base(z) + log|det dT/dx|.
Sampling runs the generative map x = T^{-1}(z), z ~ p_base, and log q(x) = log p_base(z) - log|det dx/dz|.

- ``forward_kl(x)``: -E_data log p(x), density estimation (maximum likelihood, needs ``forward``);
- ``reverse_kl(log_target, n)``: E_q[log q(x) - log p~(x)], variational inference against an
  unnormalised target (needs only ``inverse``, so planar and radial flows qualify).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import distributions as D
from torch import nn

from genlab.core.nflows.base import Bijection, Chain
from genlab.core.tensors import check_finite


class StandardNormal(nn.Module):
    """N(0, I) over an event of shape ``shape``, held in buffers so that it follows ``.to(device)``."""

    def __init__(self, *shape: int):
        super().__init__()
        self.register_buffer("loc", torch.zeros(shape))

    def forward(self, context: torch.Tensor | None = None) -> D.Distribution:
        # no support check: a diverged flow's non-finite z gives a non-finite log-prob, which the trainer
        # reports with its step and last good checkpoint
        normal = D.Normal(self.loc, torch.ones_like(self.loc), validate_args=False)
        return D.Independent(normal, self.loc.ndim, validate_args=False)


Base = D.Distribution | Callable[[torch.Tensor | None], D.Distribution]


class Flow(nn.Module):
    """``Flow(layers, base)``: ``base`` is a torch Distribution or a module ``context -> Distribution``.

    Prefer a module (``StandardNormal``) as the base: a plain Distribution does not follow ``.to(device)``.
    Calling the flow, ``flow(x, context)``, is ``log_prob``, so DDP sees the training pass in ``forward``.
    """

    def __init__(self, layers: Sequence[Bijection] | Bijection, base: Base):
        super().__init__()
        self.transform = layers if isinstance(layers, Bijection) else Chain(layers)
        self.base = base

    def base_dist(self, context: torch.Tensor | None = None) -> D.Distribution:
        return self.base if isinstance(self.base, D.Distribution) else self.base(context)

    def log_prob(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x | context), shape [B]."""
        check_finite(x, "x")
        z, logdet = self.transform(x, context)
        return self.base_dist(context).log_prob(z) + logdet

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.log_prob(x, context)

    def _base_rsample(self, n: int, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        base = self.base_dist(context)
        if context is not None and context.shape[0] != n:
            raise ValueError(f"asked for {n} samples but the context holds {context.shape[0]} rows")
        if len(base.batch_shape) == 0:
            z = base.rsample((n,)) if base.has_rsample else base.sample((n,))
        elif base.batch_shape[0] == n:
            z = base.rsample() if base.has_rsample else base.sample()
        else:
            raise ValueError(f"asked for {n} samples from a base of batch shape {tuple(base.batch_shape)}")
        return z, base.log_prob(z)

    def rsample_and_log_prob(
        self, n: int, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """n reparameterised samples x = T^{-1}(z) and their log q(x), shape [n]."""
        z, log_q = self._base_rsample(n, context)
        x, logdet = self.transform.inverse(z, context)
        return x, log_q - logdet

    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.rsample_and_log_prob(n, context)[0]

    def forward_kl(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """KL(p_data || q) up to the data entropy: the mean negative log-likelihood of ``x``."""
        return -self.log_prob(x, context).mean()

    def reverse_kl(
        self,
        log_target: Callable[[torch.Tensor], torch.Tensor],
        n: int,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """KL(q || p~) up to log Z: E_q[log q(x) - log p~(x)] over n reparameterised samples."""
        x, log_q = self.rsample_and_log_prob(n, context)
        log_p = log_target(x)
        if log_p.shape != log_q.shape:
            raise ValueError(f"log_target must return shape {tuple(log_q.shape)}, got {tuple(log_p.shape)}")
        return (log_q - log_p).mean()
