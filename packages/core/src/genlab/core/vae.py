"""Variational autoencoders: the deep latent Gaussian model with the reparameterisation trick
(Kingma & Welling 2014; Rezende et al. 2014), IAF posteriors (Kingma et al. 2016) and the
importance-weighted bound (Burda et al. 2016).

- Prior p(z) = N(0, I), or the two-layer deep latent Gaussian model of Rezende et al. (2014, eq. 2-3),
  p(z) = N(z_2; 0, I) N(z_1; mu(z_2), diag sigma(z_2)^2) with the decoder reading z_1 only; its true
  posterior couples z_1 and z_2, which a diagonal q cannot express and IAF can (Kingma et al. 2016,
  Sec. 6 uses such hierarchies). Decoder p(x | z) a product of Bernoullis for binarised data.
- Encoder q(z | x): z_0 = mu + sigma * eps, eps ~ N(0, I), optionally followed by IAF steps that take
  the encoder's hidden state h as context: log q(z_T | x) = log N(eps) - sum log sigma - sum_t log|det dz_t/dz_{t-1}|
  (IAF eq. 8-10, the same change of variables as Rezende & Mohamed eq. 7).
- Networks: MLPs, or for square images small convolutional ones (``image_size``; the IAF paper's
  MNIST models are convolutional): two stride-2 convolutions down to a (size / 4)^2 map, mirrored by
  transposed convolutions in the decoder.
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

from genlab.core.likelihood import gaussian_log_prob
from genlab.core.nflows import IAF, Chain, Permute
from genlab.core.nflows.base import check_features
from genlab.core.tensors import check_finite


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
    return nn.Sequential(*layers[:-1])


def _image_side(data_dim: int, image_size: int) -> int:
    if image_size * image_size != data_dim or image_size % 4:
        raise ValueError(
            f"convolutional VAE nets need square images with a side divisible by 4, got side {image_size}"
            f" for {data_dim} pixels"
        )
    return image_size // 4


def conv_encoder_body(data_dim: int, image_size: int, hidden: int, channels: int = 16) -> nn.Sequential:
    """x [B, size^2] -> h [B, hidden]: conv, stride-2 conv, conv, stride-2 conv, linear (ReLUs between)."""
    side, c = _image_side(data_dim, image_size), channels
    return nn.Sequential(
        nn.Unflatten(1, (1, image_size, image_size)),
        *(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 4, 2, 1), nn.ReLU()),
        *(nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * c, 2 * c, 4, 2, 1), nn.ReLU()),
        nn.Flatten(),
        *(nn.Linear(2 * c * side * side, hidden), nn.ReLU()),
    )


def conv_decoder(
    latent_dim: int, data_dim: int, image_size: int, hidden: int, channels: int = 16
) -> nn.Sequential:
    """z [..., L] -> logits [..., size^2]: the encoder body mirrored with transposed convolutions."""
    side, c = _image_side(data_dim, image_size), channels
    return nn.Sequential(
        *(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * c * side * side), nn.ReLU()),
        nn.Unflatten(-1, (2 * c, side, side)),
        *(nn.ConvTranspose2d(2 * c, 2 * c, 4, 2, 1), nn.ReLU(), nn.Conv2d(2 * c, c, 3, padding=1), nn.ReLU()),
        *(nn.ConvTranspose2d(c, c, 4, 2, 1), nn.ReLU(), nn.Conv2d(c, 1, 3, padding=1)),
        nn.Flatten(-3),
    )


class GaussianEncoder(nn.Module):
    """``encoder(x, n) -> (z [n, B, L], log q(z | x) [n, B])``: diagonal Gaussian, then ``iaf_steps`` IAFs.
    ``body`` maps x [B, data_dim] to the hidden state h [B, hidden] (an MLP by default)."""

    def __init__(
        self,
        data_dim: int,
        latent_dim: int,
        hidden: int = 256,
        iaf_steps: int = 0,
        iaf_hidden: int = 64,
        body: nn.Module | None = None,
    ):
        super().__init__()
        self.data_dim, self.latent_dim = data_dim, latent_dim
        self.body = body if body is not None else nn.Sequential(_mlp([data_dim, hidden, hidden]), nn.ReLU())
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
        log_q = gaussian_log_prob(eps, event_dims=1) - log_sigma.sum(-1)
        if self.iaf is not None:
            z_t, logdet = self.iaf.inverse(z.flatten(0, 1), h.repeat(n, 1))
            z, log_q = z_t.view_as(z), log_q - logdet.view(n, -1)
        return z, log_q


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I) over ``latent_dim``; the decoder reads all of z."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = self.visible_dim = latent_dim

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return gaussian_log_prob(z, event_dims=1)

    def visible(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def sample(self, n: int, like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator, device=like.device, dtype=like.dtype)


class GaussianHierarchy(nn.Module):
    """p(z) = N(z_2; 0, I) N(z_1; mu(z_2), diag sigma(z_2)^2) for z = [z_1, z_2] with ``top_dim`` dims
    in z_2; the decoder reads z_1 only (a two-layer deep latent Gaussian model, Rezende et al. 2014).
    The conditional starts as N(0, I) (zero-initialised last layer)."""

    def __init__(self, latent_dim: int, top_dim: int, hidden: int = 256):
        super().__init__()
        if not 0 < top_dim < latent_dim:
            raise ValueError(f"the top layer needs 0 < top_dim < latent_dim = {latent_dim}, got {top_dim}")
        self.latent_dim, self.top_dim, self.visible_dim = latent_dim, top_dim, latent_dim - top_dim
        self.net = _mlp([top_dim, hidden, hidden, 2 * self.visible_dim])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        z1, z2 = z.split([self.visible_dim, self.top_dim], -1)
        mu, log_sigma = self.net(z2).chunk(2, -1)
        eps = (z1 - mu) * torch.exp(-log_sigma)
        return gaussian_log_prob(z2, event_dims=1) + gaussian_log_prob(eps, event_dims=1) - log_sigma.sum(-1)

    def visible(self, z: torch.Tensor) -> torch.Tensor:
        return z[..., : self.visible_dim]

    def sample(self, n: int, like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(n, self.latent_dim, generator=generator, device=like.device, dtype=like.dtype)
        eps1, z2 = eps.split([self.visible_dim, self.top_dim], -1)
        mu, log_sigma = self.net(z2).chunk(2, -1)
        return torch.cat([mu + log_sigma.exp() * eps1, z2], -1)


class BernoulliDecoder(nn.Module):
    """p(x | z) = prod_d Bernoulli(x_d; sigmoid(logits_d(z))); ``net`` maps z to the logits (an MLP by default)."""

    def __init__(self, latent_dim: int, data_dim: int, hidden: int = 256, net: nn.Module | None = None):
        super().__init__()
        self.net = net if net is not None else _mlp([latent_dim, hidden, hidden, data_dim])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() > 2:  # [k, B, L]: convolutions take one batch dimension
            return self.net(z.flatten(0, -2)).unflatten(0, z.shape[:-1])
        return self.net(z)

    def log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) for x [B, D] and z [..., B, L] (or any shape broadcasting with it) -> [..., B]."""
        logits, x = torch.broadcast_tensors(self(z), x)
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


class VAE(nn.Module):
    """``VAE(encoder, decoder, prior)`` (standard normal by default); x is [B, data_dim] in [0, 1]."""

    def __init__(self, encoder: GaussianEncoder, decoder: BernoulliDecoder, prior: nn.Module | None = None):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.prior = prior if prior is not None else StandardNormalPrior(encoder.latent_dim)

    @classmethod
    def bernoulli(
        cls,
        data_dim: int,
        latent_dim: int,
        hidden: int = 256,
        iaf_steps: int = 0,
        iaf_hidden: int = 64,
        top_dim: int = 0,
        image_size: int = 0,
    ) -> VAE:
        """``top_dim`` > 0: of the ``latent_dim`` dims, ``top_dim`` form the top layer of a
        ``GaussianHierarchy`` prior. ``image_size`` > 0: convolutional networks for square images of
        that side (``data_dim`` = side^2), MLPs otherwise."""
        prior = GaussianHierarchy(latent_dim, top_dim, hidden) if top_dim else StandardNormalPrior(latent_dim)
        body = net = None
        if image_size:
            body = conv_encoder_body(data_dim, image_size, hidden)
            net = conv_decoder(prior.visible_dim, data_dim, image_size, hidden)
        encoder = GaussianEncoder(data_dim, latent_dim, hidden, iaf_steps, iaf_hidden, body)
        return cls(encoder, BernoulliDecoder(prior.visible_dim, data_dim, hidden, net), prior)

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
        return self.decoder.log_prob(x, self.prior.visible(z)), log_q - self.prior.log_prob(z)

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
        z = self.prior.sample(n, next(self.parameters()), generator)
        return torch.sigmoid(self.decoder(self.prior.visible(z)))
