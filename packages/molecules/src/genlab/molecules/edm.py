"""E(3) Equivariant Diffusion Model, EDM (Hoogeboom, Satorras, Vignac & Welling, ICML 2022).

A molecule of M atoms is the state z = [x, h] in [B, N, 3 + F] (padded, with a node mask):

- x: coordinates in Angstrom, moved to the zero centre-of-mass subspace (Sec. 3.2), where the
  diffused distribution is translation invariant; the noise lives there too (core ``zero_com``);
- h: one-hot atom types (H, C, N, O, F) times 0.25 and the atomic number ("charge") times 0.1,
  EDM's feature scaling (normalize_factors [1, 4, 10]), so that types are decided late in the
  reverse process.

The forward process is z_t = alpha_t z + sigma_t eps with EDM's polynomial schedule
alpha_t^2 = (1 - 2s)(1 - t^2)^2 + s (``PolynomialSchedule``); t = 0 keeps noise sigma_0^2 = s, and
p(x, h | z_0) decodes it (Sec. 3.3). Training regresses eps with the L2 loss (Sec. 3.4, "L_simple")
through ``genlab.core.diffusion.diffusion_loss``; sampling is ancestral (``sample_ancestral``) with
the atom count M drawn from the training histogram p(M); the variational bound is in ``edm_vlb``.
"""

from __future__ import annotations

import torch

from genlab.core.diffusion import (
    Denoiser,
    Schedule,
    diffusion_loss,
    gaussian,
    remove_com,
    sample_ancestral,
    zero_com,
)
from genlab.core.grids import time_grid
from genlab.molecules.bonds import ELEMENTS
from genlab.molecules.convert import ATOMIC_NUMBERS

N_TYPES = len(ELEMENTS)
N_FEATURES = N_TYPES + 1  # one-hot types and the atomic-number "charge"
ONE_HOT_SCALE = 0.25
CHARGE_SCALE = 0.1


class PolynomialSchedule(Schedule):
    """EDM's ``polynomial_<power>`` schedule: alpha^2(t) = (1 - 2s)(1 - t^power)^2 + s, sigma^2 = 1 - alpha^2.

    Written in continuous time (t = step / T). EDM's discrete table also clips the ratio
    alpha_t^2 / alpha_{t-1}^2 at 0.001; for power 2 that touches only the last of its T steps,
    where it changes alpha^2(1) from s by about 1e-12, so it is left out. A ``Schedule`` subclass
    (variance preserving, closed-form derivatives and inverse), so every core sampler and loss
    takes it as is.
    """

    family = "vp"

    def __init__(self, power: float = 2.0, precision: float = 1e-5):
        if power < 1:
            raise ValueError(f"power must be >= 1, got {power}")
        if not 0 < precision < 0.5:
            raise ValueError(f"precision s must lie in (0, 0.5), got {precision}")
        self.power, self.precision = power, precision

    def alpha2(self, t: torch.Tensor) -> torch.Tensor:
        s = self.precision
        return (1 - 2 * s) * (1 - t**self.power) ** 2 + s

    def alpha_sigma(self, t):
        a2 = self.alpha2(t)
        return a2.sqrt(), (1 - a2).sqrt()

    def d_alpha_sigma(self, t):
        p, s = self.power, self.precision
        da2 = -(1 - 2 * s) * 2 * (1 - t**p) * p * t ** (p - 1)
        a, sig = self.alpha_sigma(t)
        return da2 / (2 * a), -da2 / (2 * sig)

    def logsnr(self, t):
        a2 = self.alpha2(t)
        return a2.log() - torch.log1p(-a2)

    def t_from_logsnr(self, lam):
        s = self.precision
        f2 = ((torch.sigmoid(lam) - s) / (1 - 2 * s)).clamp(0, 1)
        return (1 - f2.sqrt()).clamp(0, 1) ** (1 / self.power)


class AtomCounts:
    """p(M), the histogram of atom counts (hydrogens included) in the training set."""

    def __init__(self, counts: torch.Tensor):
        counts = torch.as_tensor(counts, dtype=torch.long)
        if counts.ndim != 1 or counts.numel() == 0 or (counts < 1).any():
            raise ValueError("atom counts must be a non-empty 1-D tensor of positive integers")
        hist = torch.bincount(counts).double()
        self.probs = hist / hist.sum()

    @property
    def max_atoms(self) -> int:
        return len(self.probs) - 1

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.multinomial(self.probs, n, replacement=True, generator=generator)

    def log_prob(self, m: torch.Tensor) -> torch.Tensor:
        """log p(M = m); -inf for counts never seen in training."""
        m = torch.as_tensor(m, dtype=torch.long)
        inside = (m >= 0) & (m < len(self.probs))
        p = self.probs.to(m.device)[m.clamp(0, len(self.probs) - 1)]
        return torch.where(inside, p, torch.zeros_like(p)).log()


def node_mask_of(n_atoms: torch.Tensor, n_max: int | None = None) -> torch.Tensor:
    """The [B, N] mask of molecules with ``n_atoms`` atoms packed at the front."""
    n_max = int(n_atoms.max()) if n_max is None else n_max
    return torch.arange(n_max, device=n_atoms.device) < n_atoms[:, None]


def encode(pos: torch.Tensor, types: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
    """z = [x - CoM, 0.25 onehot(type), 0.1 atomic number] [B, N, 3 + F], zero on padding.

    ``types`` index ``ELEMENTS``; padding entries (any value) are ignored.
    """
    if pos.shape[:-1] != types.shape or node_mask.shape != types.shape or pos.shape[-1] != 3:
        raise ValueError(
            f"need pos [B, N, 3], types and node_mask [B, N]; got {list(pos.shape)}, "
            f"{list(types.shape)}, {list(node_mask.shape)}"
        )
    mask = node_mask.bool()
    real = types[mask]
    if real.numel() and (real.min() < 0 or real.max() >= N_TYPES):
        raise ValueError(
            f"atom types must index {ELEMENTS}, got values in [{int(real.min())}, {int(real.max())}]"
        )
    safe = torch.where(mask, types, torch.zeros_like(types)).long()
    onehot = torch.nn.functional.one_hot(safe, N_TYPES).to(pos.dtype) * ONE_HOT_SCALE
    charge = torch.tensor(ATOMIC_NUMBERS, dtype=pos.dtype, device=pos.device)[safe][..., None] * CHARGE_SCALE
    m = mask[..., None].to(pos.dtype)
    return torch.cat([remove_com(pos, mask), onehot * m, charge * m], dim=-1)


def decode_types(h: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
    """Atom types by argmax over the one-hot block of h (EDM); -1 on padding."""
    types = h[..., :N_TYPES].argmax(-1)
    return torch.where(node_mask.bool(), types, torch.full_like(types, -1))


def state_noise(node_mask: torch.Tensor, com: bool = True):
    """The noise_fn of z: zero centre-of-mass noise on x (core ``zero_com``; plain with com=False) and
    Gaussian noise on h, both zero on padding atoms."""
    mask = node_mask.bool()
    x_noise = zero_com(mask)

    def noise(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        m = mask[..., None].to(z.dtype)
        eps_x = x_noise(z[..., :3], generator) if com else gaussian(z[..., :3], generator) * m
        return torch.cat([eps_x, gaussian(z[..., 3:], generator) * m], dim=-1)

    return noise


class EquivariantDiffusion:
    """EDM's diffusion on z = [x, h]: the training loss, ancestral sampling and its schedule.

    ``com=False`` is the ablation without the zero centre-of-mass projection: x is then diffused in
    all 3M dimensions (the data is still centred) and the network's output is not projected.
    """

    def __init__(self, schedule: Schedule | None = None, com: bool = True, timesteps: int = 1000):
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps}")
        self.schedule = schedule or PolynomialSchedule()
        self.com, self.timesteps = com, timesteps

    def denoiser(self, model) -> Denoiser:
        return Denoiser(model, self.schedule, "eps")

    def x_dims(self, node_mask: torch.Tensor) -> torch.Tensor:
        """Degrees of freedom of x per molecule: (M - 1) 3 in the zero-CoM subspace, else 3 M."""
        m = node_mask.sum(-1).to(torch.float64)
        return 3 * (m - 1) if self.com else 3 * m

    def loss(self, model, z: torch.Tensor, node_mask: torch.Tensor, generator: torch.Generator | None = None):
        """EDM's L2 training loss ||eps - eps_hat(z_t, t)||^2, averaged over real atoms' coordinates and features."""
        return diffusion_loss(
            self.denoiser(model),
            z,
            noise_fn=state_noise(node_mask, self.com),
            mask=node_mask,
            generator=generator,
            cond={"node_mask": node_mask},
        )

    @torch.no_grad()
    def sample(
        self,
        model,
        n_atoms: torch.Tensor,
        steps: int | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Molecules with ``n_atoms`` atoms: (pos [B, N, 3], types [B, N] with -1 on padding, node_mask).

        z_1 ~ N(0, I) (zero-CoM on x), then ``steps`` (default T) ancestral steps down to t = 0, then
        x ~ p(x | z_0) = N(x0_hat, sigma_0^2 / alpha_0^2) and types = argmax of z_0's one-hot block.
        """
        if n_atoms.ndim != 1 or (n_atoms < 1).any():
            raise ValueError("n_atoms must be a 1-D tensor of positive atom counts")
        device = next(model.parameters()).device
        dtype = next(model.parameters()).dtype
        mask = node_mask_of(n_atoms.to(device))
        noise = state_noise(mask, self.com)
        den, cond = self.denoiser(model), {"node_mask": mask}
        z = noise(torch.zeros(*mask.shape, 3 + N_FEATURES, dtype=dtype, device=device), generator)
        grid = time_grid(steps or self.timesteps, (len(n_atoms),), dtype=dtype, device=device)
        z0 = sample_ancestral(den, z, grid, noise_fn=noise, generator=generator, cond=cond)
        t0 = torch.zeros(len(n_atoms), dtype=dtype, device=device)
        alpha0, sigma0 = self.schedule.alpha_sigma(t0)
        x = den.x0(z0, t0, **cond)[..., :3] + (sigma0 / alpha0)[:, None, None] * noise(z0, generator)[..., :3]
        return x, decode_types(z0[..., 3:], mask), mask
