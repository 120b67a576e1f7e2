"""2D toy densities with their log-density.

Mixtures have a closed-form density; densities built from a 1D curve plus Gaussian noise (moons,
swiss roll, rings) have p(x) = E_u N(x; c(u), s^2 I), computed by quadrature over u to high
accuracy; the checkerboard is uniform on 8 cells of area 4, so its entropy is log 32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property

import torch

from genlab.core.data.mixtures import GaussianMixture
from genlab.core.likelihood import gaussian_log_prob
from genlab.core.lookup import lookup


class Density2D:
    """A named 2D density: ``sample(n, generator)`` and ``log_prob(x)``."""

    name: str = ""

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def entropy(self, n: int = 200_000, generator: torch.Generator | None = None) -> float:
        """Differential entropy in nats: Monte-Carlo -E log p unless a subclass knows it exactly."""
        return -self.log_prob(self.sample(n, generator)).double().mean().item()

    @cached_property
    def nll_floor(self) -> float:
        """The entropy, the floor of any model's expected test NLL: estimated once, seeded, so every
        evaluation of a run compares against the same number."""
        return self.entropy(generator=torch.Generator().manual_seed(0))


class Checkerboard(Density2D):
    """Uniform on the 8 cells (i + j even) of a 4x4 board of 2x2 cells covering [-4, 4]^2."""

    name = "checkerboard"

    def sample(self, n, generator=None):
        cell = torch.randint(0, 8, (n,), generator=generator)
        row = cell // 2
        col = 2 * (cell % 2) + row % 2
        u = torch.rand(n, 2, generator=generator)
        return torch.stack([col, row], 1).float() * 2 - 4 + 2 * u

    def log_prob(self, x):
        cells = torch.floor((x + 4) / 2).long()
        inside = ((x >= -4) & (x < 4)).all(-1) & ((cells.sum(-1) % 2) == 0)
        return torch.where(inside, -math.log(32.0), -math.inf).to(x.dtype)

    def entropy(self, n=0, generator=None):
        return math.log(32.0)


class StandardGaussian2D(Density2D):
    """N(0, I): the source of flow matching and diffusion ("noise")."""

    name = "gaussian"

    def sample(self, n, generator=None):
        return torch.randn(n, 2, generator=generator)

    def log_prob(self, x):
        return gaussian_log_prob(x, event_dims=1)

    def entropy(self, n=0, generator=None):
        return 1 + math.log(2 * math.pi)


class MixtureDensity(Density2D):
    """A 2D Gaussian mixture under a name."""

    def __init__(self, name: str, mixture: GaussianMixture):
        self.name, self.mixture = name, mixture

    def sample(self, n, generator=None):
        return self.mixture.sample(n, generator)

    def log_prob(self, x):
        return self.mixture.log_prob(x)


class CurveDensity(Density2D):
    """x = c(u) + s * z with u ~ U[0, 1]; log p by midpoint quadrature over u."""

    def __init__(
        self, name: str, curve: Callable[[torch.Tensor], torch.Tensor], noise: float, nodes: int = 4096
    ):
        self.name, self.curve, self.noise = name, curve, noise
        self.nodes = curve((torch.arange(nodes, dtype=torch.float64) + 0.5) / nodes)

    def sample(self, n, generator=None):
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        z = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return (self.curve(u) + self.noise * z).float()

    def log_prob(self, x):
        return torch.cat([self._log_prob(chunk) for chunk in x.split(4096)]) if len(x) else x.new_zeros(0)

    def _log_prob(self, x):
        d2 = torch.cdist(x.double(), self.nodes).square()
        log_kernel = -0.5 * d2 / self.noise**2 - math.log(2 * math.pi * self.noise**2)
        return (torch.logsumexp(log_kernel, -1) - math.log(len(self.nodes))).to(x.dtype)


def _moons(u: torch.Tensor) -> torch.Tensor:
    """Two interleaved half circles (sklearn's make_moons), scaled to about [-4, 4]."""
    upper = u < 0.5
    a = torch.where(upper, 2 * u, 2 * u - 1) * math.pi
    x = torch.where(upper, torch.cos(a), 1 - torch.cos(a))
    y = torch.where(upper, torch.sin(a), 0.5 - torch.sin(a))
    return torch.stack([x - 0.5, y - 0.25], -1) * 2.5


def _swiss_roll(u: torch.Tensor) -> torch.Tensor:
    a = 1.5 * math.pi * (1 + 2 * u)
    return torch.stack([a * torch.cos(a), a * torch.sin(a)], -1) / 3.5


def _rings(u: torch.Tensor) -> torch.Tensor:
    """Four concentric circles of radius 1..4, each carrying a quarter of the mass."""
    ring = torch.clamp((u * 4).floor(), max=3)
    a = (u * 4 - ring) * 2 * math.pi
    return torch.stack([torch.cos(a), torch.sin(a)], -1) * (ring + 1)[:, None]


def _ring_means(k: int, radius: float) -> torch.Tensor:
    a = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return radius * torch.stack([a.cos(), a.sin()], -1)


def _grid_means(side: int, spacing: float) -> torch.Tensor:
    g = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(g, g)


DENSITIES: dict[str, Callable[[], Density2D]] = {
    "checkerboard": Checkerboard,
    "8gaussians": lambda: MixtureDensity("8gaussians", GaussianMixture(_ring_means(8, 4.0), 0.5)),
    "ring8": lambda: MixtureDensity("ring8", GaussianMixture(_ring_means(8, 2.0), 0.05)),
    "grid25": lambda: MixtureDensity("grid25", GaussianMixture(_grid_means(5, 2.0), 0.05)),
    "gaussian": StandardGaussian2D,
    "moons": lambda: CurveDensity("moons", _moons, 0.1),
    "swissroll": lambda: CurveDensity("swissroll", _swiss_roll, 0.15),
    "rings": lambda: CurveDensity("rings", _rings, 0.08),
}


def get_density(name: str) -> Density2D:
    """The 2D density called ``name`` ("noise" is the standard normal); unknown names raise with close matches."""
    name = "gaussian" if name == "noise" else name
    density = lookup("2D density", name, DENSITIES)()
    density.name = name
    return density
