"""Variational autoencoders: the deep latent Gaussian model with the reparameterisation trick
(Kingma & Welling 2014; Rezende et al. 2014), IAF posteriors (Kingma et al. 2016) and the
importance-weighted bound (Burda et al. 2016).

- Prior p(z) = N(0, I); decoder p(x | z) a product of Bernoullis for binarised data.
- Encoder q(z | x): z_0 = mu + sigma * eps, eps ~ N(0, I), optionally followed by IAF steps that take
  the encoder's hidden state h as context: log q(z_T | x) = log N(eps) - sum log sigma - sum_t log|det dz_t/dz_{t-1}|
  (IAF eq. 8-10, the same change of variables as Rezende & Mohamed eq. 7).
- With log w = log p(x | z) + log p(z) - log q(z | x), the ELBO is E_q log w and the k-sample bound
  L_k = E log (1/k) sum_i w_i (log-mean-exp) satisfies ELBO = L_1 <= L_k <= L_{k+1} <= log p(x).
- Free bits (IAF appendix C, with a single group): the KL term is replaced by max(lambda * latent_dim,
  batch-mean KL), so the encoder is not pushed below lambda nats per latent dimension.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.nflows import IAF, Chain, Permute
from genlab.core.nflows.base import check_features
from genlab.core.tensors import check_finite


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
    return nn.Sequential(*layers[:-1])


def _standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


class GaussianEncoder(nn.Module):
    """``encoder(x, n) -> (z [n, B, L], log q(z | x) [n, B])``: diagonal Gaussian, then ``iaf_steps`` IAFs."""

    def __init__(
        self, data_dim: int, latent_dim: int, hidden: int = 256, iaf_steps: int = 0, iaf_hidden: int = 64
    ):
        super().__init__()
        self.data_dim, self.latent_dim = data_dim, latent_dim
        self.body = nn.Sequential(_mlp([data_dim, hidden, hidden]), nn.ReLU())
        self.head = nn.Linear(hidden, 2 * latent_dim)
        steps: list = []
        for i in range(iaf_steps):
            if i:  # reverse the order between steps, as in IAF section 5
                steps.append(Permute.reverse(latent_dim))
            steps.append(IAF(latent_dim, iaf_hidden, context_features=hidden))
        self.iaf = Chain(steps) if steps else None

    def forward(self, x: torch.Tensor, n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        mu, log_sigma = self.head(h).chunk(2, -1)
        eps = torch.randn(n, *mu.shape, dtype=mu.dtype, device=mu.device)
        z = mu + log_sigma.exp() * eps
        log_q = _standard_normal_log_prob(eps) - log_sigma.sum(-1)
        if self.iaf is not None:
            z_t, logdet = self.iaf.inverse(z.flatten(0, 1), h.repeat(n, 1))
            z, log_q = z_t.view_as(z), log_q - logdet.view(n, -1)
        return z, log_q


class BernoulliDecoder(nn.Module):
    """p(x | z) = prod_d Bernoulli(x_d; sigmoid(logits_d(z)))."""

    def __init__(self, latent_dim: int, data_dim: int, hidden: int = 256):
        super().__init__()
        self.net = _mlp([latent_dim, hidden, hidden, data_dim])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) for x [B, D] and z [..., B, L] (or any shape broadcasting with it) -> [..., B]."""
        logits, x = torch.broadcast_tensors(self(z), x)
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


class VAE(nn.Module):
    """``VAE(encoder, decoder)`` with a standard-normal prior; x is [B, data_dim] with values in [0, 1]."""

    def __init__(self, encoder: GaussianEncoder, decoder: BernoulliDecoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    @classmethod
    def bernoulli(
        cls, data_dim: int, latent_dim: int, hidden: int = 256, iaf_steps: int = 0, iaf_hidden: int = 64
    ) -> VAE:
        encoder = GaussianEncoder(data_dim, latent_dim, hidden, iaf_steps, iaf_hidden)
        return cls(encoder, BernoulliDecoder(latent_dim, data_dim, hidden))

    def _check(self, x: torch.Tensor) -> None:
        check_features(x, 2, self.encoder.data_dim)
        check_finite(x, "x")
        if x.min() < 0 or x.max() > 1:
            raise ValueError(
                f"the Bernoulli decoder needs x in [0, 1], got [{x.min().item()}, {x.max().item()}]"
            )

    def terms(self, x: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x | z), log q(z | x) - log p(z)) for k posterior samples: two tensors [k, B]."""
        self._check(x)
        z, log_q = self.encoder(x, k)
        return self.decoder.log_prob(x, z), log_q - _standard_normal_log_prob(z)

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """One-sample ELBO estimate per example, [B]."""
        rec, kl = self.terms(x)
        return (rec - kl)[0]

    def iw_bound(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """The k-sample importance-weighted bound per example, [B]: logsumexp(log w) - log k."""
        rec, kl = self.terms(x, k)
        return torch.logsumexp(rec - kl, 0) - math.log(k)

    def loss(self, x: torch.Tensor, free_bits: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
        """(-ELBO with free bits, logs); the ELBO itself is logged unclamped."""
        rec, kl = self.terms(x)
        rec, kl = rec.mean(), kl.mean()
        loss = -rec + torch.clamp(kl, min=free_bits * self.encoder.latent_dim)
        return loss, {"elbo": (rec - kl).item(), "rec": rec.item(), "kl": kl.item()}

    forward = loss  # calling the model computes the training loss, as DDP expects

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Bernoulli means sigmoid(logits(z)) for n prior draws, [n, data_dim]."""
        p = next(self.parameters())
        z = torch.randn(n, self.encoder.latent_dim, generator=generator, device=p.device, dtype=p.dtype)
        return torch.sigmoid(self.decoder(z))
