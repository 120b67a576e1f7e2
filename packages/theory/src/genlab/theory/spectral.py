"""Diffusion as approximate spectral autoregression (Dieleman 2024, "Diffusion is spectral
autoregression", sander.ai, 2024-09-02).

The radially averaged power spectral density (RAPSD) of a signal x on a grid of N points is
    P(k) = |F[x](k)|^2 / N   (unnormalised DFT F),   R(f) = mean of P(k) over the shell round(|k|) = f,
normalised so that white noise of variance sigma^2 has E R(f) = sigma^2 at every f, and by Parseval
sum_k P(k) = sum_x x^2. Natural images have R(f) ~ A f^(-alpha); adding noise at sigma adds a flat
sigma^2, so the signal stands above the noise only below the crossover f*(sigma), where
A f*^(-alpha) = sigma^2, i.e. f* = (A / sigma^2)^(1/alpha), which falls like sigma^(-2/alpha).

For a Gaussian model N(mu, Sigma) of the data the denoiser is closed form,
    E[x0 | x_t] = mu + alpha Sigma (alpha^2 Sigma + sigma^2 I)^(-1) (x_t - alpha mu),
and for a stationary Sigma this is the Wiener filter alpha P(f) / (alpha^2 P(f) + sigma^2) per
frequency: band f of x0_hat is decided once alpha^2 P(f) exceeds sigma^2, so a falling spectrum makes
sampling run coarse to fine, and a rising one would run fine to coarse. ``settle_steps`` measures
the order along a sampling path.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genlab.core.diffusion.parameterization import Denoiser
from genlab.core.diffusion.samplers import sample_ddim
from genlab.core.diffusion.schedules import Schedule
from genlab.core.tensors import append_dims, check_time


def _shells(n: int, ndim: int) -> torch.Tensor:
    """The shell index round(|k|) of every frequency k of an n^ndim grid (integer frequencies)."""
    k = torch.fft.fftfreq(n, 1 / n, dtype=torch.float64)
    return torch.stack(torch.meshgrid(*[k] * ndim, indexing="ij")).square().sum(0).sqrt().round().long()


def shell_counts(n: int, ndim: int = 2) -> torch.Tensor:
    """How many frequencies fall in each shell of ``rapsd`` (Parseval: sum_f counts R(f) = sum_x x^2)."""
    return torch.bincount(_shells(n, ndim).flatten()).double()


def rapsd(x: torch.Tensor, ndim: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """(f, R(f)) over the last ``ndim`` axes (equal sizes n), averaged over every leading axis.

    f = 0, 1, ... is the radius in cycles per signal length, up to the grid's corner; R is in the
    normalisation where white noise of variance sigma^2 gives sigma^2.
    """
    if x.ndim < ndim or len(set(x.shape[-ndim:])) != 1:
        raise ValueError(f"need a signal whose last {ndim} axes have one size, got {tuple(x.shape)}")
    n = x.shape[-1]
    power = torch.fft.fftn(x.double(), dim=tuple(range(-ndim, 0))).abs().square() / n**ndim
    shells = _shells(n, ndim).flatten()
    power = power.reshape(-1, shells.numel()).mean(0)
    counts = shell_counts(n, ndim)
    return torch.arange(len(counts), dtype=torch.float64), torch.bincount(shells, power) / counts


def power_law_fit(
    f: torch.Tensor, power: torch.Tensor, fmin: float, fmax: float
) -> tuple[float, float, float]:
    """Least squares log R = log A - alpha log f over fmin <= f <= fmax: (alpha, log A, R^2)."""
    keep = (f >= fmin) & (f <= fmax) & (power > 0)
    if keep.sum() < 3:
        raise ValueError(f"fewer than 3 frequencies with power in [{fmin}, {fmax}]")
    lx, ly = f[keep].log(), power[keep].log()
    design = torch.stack([torch.ones_like(lx), lx], 1)
    coef = torch.linalg.lstsq(design, ly[:, None]).solution[:, 0]
    resid = ly - design @ coef
    r2 = 1 - resid.square().sum() / (ly - ly.mean()).square().sum()
    return -coef[1].item(), coef[0].item(), r2.item()


def crossover(f: torch.Tensor, power: torch.Tensor, noise_power: float, fmax: float) -> float:
    """f*: the first frequency f >= 1 where R(f) falls below ``noise_power`` (log-log interpolation
    between shells); ``fmax`` if it never does below fmax, nan if R(1) is already below."""
    keep = (f >= 1) & (f <= fmax)
    f, power = f[keep], power[keep]
    below = (power < noise_power).nonzero()
    if len(below) == 0:
        return float(fmax)
    i = below[0].item()
    if i == 0:
        return math.nan
    lf, lp = f[i - 1 : i + 1].log(), power[i - 1 : i + 1].log()
    w = (math.log(noise_power) - lp[0]) / (lp[1] - lp[0])
    return math.exp((lf[0] + w * (lf[1] - lf[0])).item())


class GaussianDenoiser(nn.Module):
    """E[x0 | x_t] of the Gaussian N(mu, Sigma) fitted to ``data`` [N, *shape], under ``schedule``:
    mu + U diag(alpha lam / (alpha^2 lam + sigma^2)) U^T (x_t - alpha mu), Sigma = U diag(lam) U^T."""

    def __init__(self, data: torch.Tensor, schedule: Schedule, ridge: float = 1e-6):
        super().__init__()
        if data.ndim < 2 or len(data) < 2:
            raise ValueError(f"need a batch of samples [N, ...], got shape {tuple(data.shape)}")
        self.shape, self.schedule = data.shape[1:], schedule
        flat = data.flatten(1).double()
        mean = flat.mean(0)
        cov = torch.cov(flat.T) + ridge * torch.eye(flat.shape[1], dtype=torch.float64)
        lam, vecs = torch.linalg.eigh(cov)
        self.register_buffer("mean", mean)
        self.register_buffer("lam", lam.clamp_min(0))
        self.register_buffer("vecs", vecs)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, len(self.lam), generator=generator, dtype=torch.float64)
        return (self.mean + (z * self.lam.sqrt()) @ self.vecs.T).view(n, *self.shape)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        check_time(t, x)
        a, s = (append_dims(c.double(), 2) for c in self.schedule.alpha_sigma(t))
        centred = (x.flatten(1).double() - a * self.mean) @ self.vecs  # coordinates in the eigenbasis
        gain = a * self.lam / (a**2 * self.lam + s**2)
        return (self.mean + (gain * centred) @ self.vecs.T).view_as(x).to(x.dtype)


@torch.no_grad()
def x0_path(denoiser: Denoiser, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """x0_hat = E[x0 | x_t] at every step of deterministic DDIM along ``grid``: [K, *x.shape]."""
    path = []
    sample_ddim(denoiser, x, grid, callback=lambda k, t, x_s, x0: path.append(x0))
    return torch.stack(path)


def settle_steps(curves: torch.Tensor, tol: float) -> torch.Tensor:
    """For curves [K, F] (a quantity per step and band), the first step from which every later value
    stays within ``tol`` (relative) of the final one: [F] integer steps."""
    final = curves[-1]
    off = (curves / final - 1).abs() > tol  # [K, F]
    last_off = torch.where(off, torch.arange(len(curves))[:, None], -1).max(0).values
    return last_off + 1


def stationary_signals(
    spectrum: torch.Tensor, n: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """n zero-mean Gaussian 1D signals of length L whose expected RAPSD is ``spectrum`` [L // 2 + 1]
    (real signals; L even): the inverse real FFT of complex white noise shaped by sqrt(spectrum)."""
    length = 2 * (len(spectrum) - 1)
    re, im = torch.randn(2, n, len(spectrum), generator=generator, dtype=torch.float64)
    coef = (re + 1j * im) * (spectrum * length / 2).sqrt()
    coef[:, 0], coef[:, -1] = coef[:, 0].real * math.sqrt(2), coef[:, -1].real * math.sqrt(2)  # real bins
    return torch.fft.irfft(coef, n=length)
