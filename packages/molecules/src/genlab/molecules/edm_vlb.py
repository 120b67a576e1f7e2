"""EDM's variational bound on -log p(x, h, M), the NLL of its tables (Hoogeboom et al. 2022, Sec. 3.3-3.4).

For one molecule with T discrete steps (t = i / T, s = (i - 1) / T), in nats:

    -log p(x, h, M) <= KL(q(z_1 | x, h) || N(0, I))                       prior
                     + T * E_i [ 0.5 (SNR(s) / SNR(t) - 1) ||eps - eps_hat(z_t, t)||^2 ]   diffusion
                     - log p(x | z_0) - log p(h | z_0)                    decoder, L_0
                     - log p(M)                                           atom-count histogram

with one draw of i ~ U{1..T} and of eps per call (an unbiased estimate of the diffusion sum). The
Gaussian terms of x count only its (M - 1) 3 free dimensions when x lives in the zero-CoM subspace.
p(x | z_0) = N(x; x0_hat, sigma_0^2 / alpha_0^2), whose log density at x is
-0.5 ||eps_0 - eps_hat(z_0, 0)||^2 - d_x (log(sigma_0 / alpha_0) + 0.5 log 2 pi). p(h | z_0) is EDM's
discrete likelihood: the atomic number c is an integer bin, p(c) = Phi((c - u + 1/2) / s) -
Phi((c - u - 1/2) / s) with u = z_0 / 0.1 and s = sigma_0 / 0.1, and each type's one-hot entry gets
the mass of [1/2, 3/2] under N(z_0 / 0.25, (sigma_0 / 0.25)^2), normalised over the types.
"""

from __future__ import annotations

import math

import torch

from genlab.molecules.edm import (
    CHARGE_SCALE,
    N_TYPES,
    ONE_HOT_SCALE,
    AtomCounts,
    EquivariantDiffusion,
    state_noise,
)

LOG_EPS = 1e-10  # EDM's floor inside the logs of the bin masses


def _std_normal_cdf(u: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(u / math.sqrt(2)))


def _bin_log_mass(centre: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log P(|u| < 1/2) for u ~ N(centre, std^2)."""
    return torch.log(_std_normal_cdf((0.5 - centre) / std) - _std_normal_cdf((-0.5 - centre) / std) + LOG_EPS)


def log_p_h_given_z0(z0_h, h, sigma0, node_mask) -> torch.Tensor:
    """EDM's discrete log p(h | z_0) per molecule [B] (types and atomic numbers of the real atoms)."""
    m = node_mask.to(h.dtype)
    std = sigma0[:, None, None]
    onehot = h[..., :N_TYPES] / ONE_HOT_SCALE
    log_mass = _bin_log_mass(z0_h[..., :N_TYPES] / ONE_HOT_SCALE - 1, std / ONE_HOT_SCALE)
    log_cat = (log_mass - log_mass.logsumexp(-1, keepdim=True)) * onehot
    charge = torch.round(h[..., N_TYPES] / CHARGE_SCALE)
    log_int = _bin_log_mass(charge - z0_h[..., N_TYPES] / CHARGE_SCALE, std[..., 0] / CHARGE_SCALE)
    return (log_cat.sum(-1) * m + log_int * m).sum(-1)


def vlb_terms(
    edm: EquivariantDiffusion,
    model,
    z: torch.Tensor,
    node_mask: torch.Tensor,
    counts: AtomCounts,
    generator: torch.Generator | None = None,
    steps: torch.Tensor | None = None,
    noise: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """The bound's terms per molecule ([B] each, nats) and their sum ``nll``, for a clean state z.

    ``steps`` (ints in 1..T) and ``noise`` = (eps for z_t, eps for z_0) fix the random draws (common
    random numbers); by default they are drawn from ``generator``.
    """
    sch, den, T = edm.schedule, edm.denoiser(model), edm.timesteps
    mask = node_mask.bool()
    m = mask[..., None].to(z.dtype)
    batch = z.shape[0]
    cond = {"node_mask": mask}
    draw = state_noise(mask, edm.com)
    eps_t, eps_0 = noise if noise is not None else (draw(z, generator), draw(z, generator))
    if steps is None:
        steps = torch.randint(1, T + 1, (batch,), generator=generator, device=z.device)
    if (steps < 1).any() or (steps > T).any():
        raise ValueError(f"steps must lie in 1..{T}")
    d_x = edm.x_dims(mask).to(z.dtype)
    d = d_x + mask.sum(-1).to(z.dtype) * (z.shape[-1] - 3)

    # prior: KL(N(alpha_1 z, sigma_1^2) || N(0, 1)) over the d free dimensions
    a1, s1 = sch.alpha_sigma(torch.ones(batch, dtype=z.dtype, device=z.device))
    prior = 0.5 * (a1**2 * z.square().sum((1, 2)) + d * (s1**2 - 1 - 2 * s1.log()))

    # diffusion: T * 0.5 (SNR(s)/SNR(t) - 1) ||eps - eps_hat||^2 at t = i/T
    t, s = steps.to(z.dtype) / T, (steps - 1).to(z.dtype) / T
    z_t = sch.add_noise(z, eps_t, t)
    err = ((den.raw(z_t, t, **cond) - eps_t).square() * m).sum((1, 2))
    diffusion = T * 0.5 * torch.expm1(sch.logsnr(s) - sch.logsnr(t)) * err

    # decoder L_0 = -log p(x | z_0) - log p(h | z_0)
    t0 = torch.zeros(batch, dtype=z.dtype, device=z.device)
    a0, s0 = sch.alpha_sigma(t0)
    z0 = sch.add_noise(z, eps_0, t0)
    eps_hat0 = den.raw(z0, t0, **cond)
    x_err = ((eps_hat0 - eps_0)[..., :3].square() * m).sum((1, 2))
    neg_log_px = 0.5 * x_err + d_x * (torch.log(s0 / a0) + 0.5 * math.log(2 * math.pi))
    neg_log_ph = -log_p_h_given_z0(z0[..., 3:], z[..., 3:], s0, mask)

    neg_log_pm = -counts.log_prob(mask.sum(-1)).to(z)
    nll = prior + diffusion + neg_log_px + neg_log_ph + neg_log_pm
    return {
        "nll": nll,
        "prior": prior,
        "diffusion": diffusion,
        "neg_log_px_z0": neg_log_px,
        "neg_log_ph_z0": neg_log_ph,
        "neg_log_pm": neg_log_pm,
    }
