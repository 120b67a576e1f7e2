"""Sample-based distances between distributions: sliced Wasserstein, MMD, Frechet distance.

Sliced Wasserstein (Rabin et al. 2011; Bonneel et al. 2015) averages exact 1D W_p over random
directions; MMD is the unbiased estimator of Gretton et al. (2012) with a sum of Gaussian kernels;
the Frechet distance is that of Heusel et al. (2017) on any feature network (never called FID here).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"expected two [N, D] sample sets of one dimension D, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    for name, s in (("x", x), ("y", y)):
        if not torch.isfinite(s).all():
            raise ValueError(f"sample set {name} holds NaN or inf")


def sliced_wasserstein(
    x: torch.Tensor, y: torch.Tensor, n_projections: int = 512, p: int = 2, seed: int = 0
) -> float:
    """SW_p(x, y) with ``n_projections`` random unit directions; unequal sizes via 1D quantiles."""
    _check_pair(x, y)
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(x.shape[1], n_projections, generator=gen, dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    # projections as rows [P, N]: sorting along the contiguous last dimension is ~5x faster
    px, py = (theta.T @ x.double().cpu().T).sort(-1).values, (theta.T @ y.double().cpu().T).sort(-1).values
    n = max(px.shape[1], py.shape[1])
    q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    qx = torch.quantile(px, q, dim=1).T if px.shape[1] != n else px
    qy = torch.quantile(py, q, dim=1).T if py.shape[1] != n else py
    return ((qx - qy).abs().pow(p).mean()).pow(1 / p).item()


def mmd(x: torch.Tensor, y: torch.Tensor, bandwidths: tuple[float, ...] | None = None) -> float:
    """Unbiased squared MMD with a sum of Gaussian kernels.

    By default the bandwidths are the median pairwise distance times (0.25, 0.5, 1, 2, 4).
    """
    _check_pair(x, y)
    x, y = x.double(), y.double()
    z = torch.cat([x, y])
    d2 = torch.cdist(z, z).square()
    if bandwidths is None:
        med = d2[d2 > 0].median().sqrt().item()
        bandwidths = tuple(med * s for s in (0.25, 0.5, 1.0, 2.0, 4.0))
    k = sum(torch.exp(-d2 / (2 * h**2)) for h in bandwidths)
    n, m = len(x), len(y)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    term_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    term_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return (term_x + term_y - 2 * kxy.mean()).item()


def frechet_distance(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}) between two feature sets [N, F]."""
    _check_pair(feats_a, feats_b)
    a, b = feats_a.double().cpu().numpy(), feats_b.double().cpu().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))
