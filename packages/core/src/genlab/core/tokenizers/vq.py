"""Vector quantization with an EMA codebook (VQ-VAE, van den Oord et al., 2017, App. A.1).

z is replaced by its nearest code e_k; the encoder gets the straight-through gradient and the
commitment loss beta ||z - sg(e_k)||^2. Codes are not trained by gradient: each is the EMA of the
vectors assigned to it,
    N_k <- gamma N_k + (1 - gamma) n_k,   m_k <- gamma m_k + (1 - gamma) sum_{z -> k} z,   e_k = m_k / N_k,
with Laplace smoothing of N. The codebook starts from k-means(++) on the first training batch
(Lancucki et al., 2020), and codes whose EMA usage falls below ``dead_threshold`` are revived
with random vectors of the batch (Dhariwal et al., 2020, Jukebox). Under torch.distributed the
statistics are summed over processes and resets come from rank 0, so replicas stay identical.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from genlab.core.tokenizers.base import Quantizer, check_channels, straight_through


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_reduce(x: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.all_reduce(x)
    return x


def _broadcast(x: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.broadcast(x, src=0)
    return x


def nearest(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest code (squared Euclidean distance) for each row of z [N, D]."""
    return torch.cdist(z, codebook).argmin(-1)


def kmeans_plus_plus(z: torch.Tensor, k: int) -> torch.Tensor:
    """k seeds among the rows of z, each drawn with chance ∝ squared distance to the nearest seed so
    far (Arthur & Vassilvitskii, 2007), so that separate clusters get separate seeds."""
    seeds = [z[torch.randint(len(z), (), device=z.device)]]
    gap = ((z - seeds[0]) ** 2).sum(-1)
    for _ in range(k - 1):
        weights = gap if gap.sum() > 0 else torch.ones_like(gap)  # fewer distinct rows than codes
        seeds.append(z[torch.multinomial(weights, 1)[0]])
        gap = torch.minimum(gap, ((z - seeds[-1]) ** 2).sum(-1))
    return torch.stack(seeds)


def kmeans(z: torch.Tensor, k: int, iters: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm from k-means++ seeds on z [N, D]; returns (centroids [k, D], counts [k])."""
    centroids = kmeans_plus_plus(z, k)
    for _ in range(iters):
        assign = nearest(z, centroids)
        counts = torch.bincount(assign, minlength=k).to(z)
        sums = torch.zeros_like(centroids).index_add_(0, assign, z)
        centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
    return centroids, torch.bincount(nearest(z, centroids), minlength=k).to(z)


class VectorQuantizer(Quantizer):
    """``vq(z [..., dim]) -> (quantized, indices [...], {"commitment": beta mse})``."""

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        dead_threshold: float = 1e-2,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.dim, self.codebook_size = dim, codebook_size
        self.decay, self.commitment_weight, self.eps = decay, commitment_weight, eps
        self.kmeans_iters, self.dead_threshold = kmeans_iters, dead_threshold
        self.register_buffer("codebook", torch.randn(codebook_size, dim))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed_sum", self.codebook.clone())
        # float, like every buffer, so that weight averaging (the trainer's EMA) can take it
        self.register_buffer("initialized", torch.tensor(float(not kmeans_init)))

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        return F.embedding(indices, self.codebook)

    @torch.no_grad()
    def init_codebook(self, flat: torch.Tensor) -> None:
        """k-means on vectors [N, dim]; done on the first training batch unless called before."""
        centroids, counts = kmeans(flat, self.codebook_size, self.kmeans_iters)
        self.codebook.copy_(_broadcast(centroids))
        self.cluster_size.copy_(_broadcast(counts))
        self.embed_sum.copy_(self.codebook * self.cluster_size[:, None])
        self.initialized.fill_(1.0)

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        counts = _all_reduce(torch.bincount(indices, minlength=self.codebook_size).to(flat))
        sums = _all_reduce(torch.zeros_like(self.embed_sum).index_add_(0, indices, flat))
        self.cluster_size.lerp_(counts, 1 - self.decay)
        self.embed_sum.lerp_(sums, 1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.codebook_size * self.eps) * n
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < self.dead_threshold
        if dead.any():
            fresh = _broadcast(flat[torch.randint(len(flat), (self.codebook_size,), device=flat.device)])
            self.codebook.copy_(torch.where(dead[:, None], fresh, self.codebook))
            self.cluster_size.copy_(torch.where(dead, 1.0, self.cluster_size))
            self.embed_sum.copy_(self.codebook * self.cluster_size[:, None])

    def forward(self, z: torch.Tensor):
        check_channels(z, self.dim, "VectorQuantizer")
        flat = z.detach().reshape(-1, self.dim).float()
        if self.training and not self.initialized:
            self.init_codebook(flat)
        indices = nearest(flat, self.codebook)
        q = self.indices_to_codes(indices).view(z.shape).to(z.dtype)  # before the EMA step moves the codes
        if self.training:
            self._update(flat, indices)
        aux = {"commitment": self.commitment_weight * F.mse_loss(z, q.detach())}
        return straight_through(z, q), indices.view(z.shape[:-1]), aux
