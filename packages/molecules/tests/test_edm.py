"""EDM's diffusion: polynomial schedule, state encoding, zero-CoM noise, sampling, atom counts, the VLB."""

import math

import pytest
import torch
from e3nn import o3

from genlab.core.diffusion.schedules import Schedule
from genlab.molecules.denoisers import build_denoiser
from genlab.molecules.edm import (
    N_FEATURES,
    AtomCounts,
    EquivariantDiffusion,
    PolynomialSchedule,
    decode_types,
    encode,
    node_mask_of,
    state_noise,
)
from genlab.molecules.edm_vlb import log_p_h_given_z0, vlb_terms


def _molecules(sizes=(6, 4, 3), seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mask = node_mask_of(torch.tensor(sizes))
    types = torch.randint(0, 5, mask.shape, generator=g)
    pos = torch.randn(*mask.shape, 3, generator=g, dtype=dtype) + 4.0
    return pos, types, mask


def test_polynomial_schedule_matches_edm_table():
    """alpha^2 at t = i/T is EDM's polynomial_2 table: (1 - 2s)(1 - (i/T)^2)^2 + s, logSNR falls with t."""
    sch, T = PolynomialSchedule(2.0, 1e-5), 1000
    i = torch.arange(T + 1, dtype=torch.float64)
    alpha, sigma = sch.alpha_sigma(i / T)
    torch.testing.assert_close(alpha**2, (1 - 2e-5) * (1 - (i / T) ** 2) ** 2 + 1e-5)
    torch.testing.assert_close(alpha**2 + sigma**2, torch.ones_like(alpha))
    lam = sch.logsnr(i / T)
    assert (lam[1:] < lam[:-1]).all() and lam[0] == pytest.approx(math.log((1 - 1e-5) / 1e-5))
    t = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    for mine, autograd in zip(sch.d_alpha_sigma(t), Schedule.d_alpha_sigma(sch, t)):
        torch.testing.assert_close(mine, autograd)
    torch.testing.assert_close(sch.t_from_logsnr(sch.logsnr(t)), t)
    with pytest.raises(ValueError, match="precision"):
        PolynomialSchedule(2.0, 0.7)


def test_encode_scales_types_and_centres_coordinates():
    pos, types, mask = _molecules()
    z = encode(pos, types, mask)
    assert z.shape == (3, 6, 3 + N_FEATURES)
    assert z[..., :3].sum(1).abs().max() < 1e-12 and z[~mask].abs().max() == 0
    onehot = z[..., 3:8][mask]
    assert set(onehot.unique().tolist()) == {0.0, 0.25} and (onehot.sum(-1) == 0.25).all()
    atomic = torch.tensor([1, 6, 7, 8, 9], dtype=torch.float64)[types[mask]]
    torch.testing.assert_close(z[..., 8][mask], 0.1 * atomic)
    decoded = decode_types(z[..., 3:], mask)
    assert (decoded[mask] == types[mask]).all() and (decoded[~mask] == -1).all()
    with pytest.raises(ValueError, match="atom types must index"):
        encode(pos, torch.full_like(types, 7), mask)


def test_state_noise_is_zero_com_and_zero_on_padding():
    _, _, mask = _molecules()
    eps = state_noise(mask)(torch.zeros(3, 6, 9, dtype=torch.float64), torch.Generator().manual_seed(0))
    assert eps[..., :3].sum(1).abs().max() < 1e-12 and eps[~mask].abs().max() == 0
    assert eps[..., 3:][mask].std() > 0.5
    free = state_noise(mask, com=False)(torch.zeros(3, 6, 9, dtype=torch.float64), torch.Generator())
    assert free[..., :3].sum(1).abs().max() > 1e-3


def test_loss_ignores_padding_and_is_finite():
    torch.manual_seed(0)
    model = build_denoiser("egnn", N_FEATURES, 16, 2)
    pos, types, mask = _molecules(dtype=torch.float32)
    z = encode(pos, types, mask).requires_grad_(True)
    loss, logs = EquivariantDiffusion().loss(model, z, mask, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert math.isfinite(logs["loss"]) and z.grad[~mask].abs().max() == 0 and z.grad[mask].abs().max() > 0


def test_sampled_coordinates_are_centred():
    torch.manual_seed(0)
    model = build_denoiser("egnn", N_FEATURES, 16, 2)
    n_atoms = torch.tensor([5, 9, 2])
    pos, types, mask = EquivariantDiffusion().sample(
        model, n_atoms, steps=8, generator=torch.Generator().manual_seed(0)
    )
    assert pos.shape == (3, 9, 3) and (mask.sum(1) == n_atoms).all()
    assert pos.sum(1).abs().max() < 1e-3 * pos.abs().max() and pos[~mask].abs().max() == 0
    assert ((types >= 0) == mask).all() and types.max() < 5
    with pytest.raises(ValueError, match="positive atom counts"):
        EquivariantDiffusion().sample(model, torch.tensor([3, 0]))


def test_atom_counts_histogram():
    counts = AtomCounts(torch.tensor([3, 3, 5, 5, 5, 9]))
    torch.testing.assert_close(counts.log_prob(torch.tensor([3, 5, 9])).exp(), torch.tensor([2, 3, 1]) / 6.0,
                               check_dtype=False)  # fmt: skip
    assert counts.log_prob(torch.tensor([4, 12])).isneginf().all()
    draws = counts.sample(6000, torch.Generator().manual_seed(0))
    assert set(draws.unique().tolist()) == {3, 5, 9} and abs((draws == 5).float().mean() - 0.5) < 0.03
    with pytest.raises(ValueError, match="positive integers"):
        AtomCounts(torch.tensor([0, 3]))


def test_discrete_h_likelihood():
    """At z_0 = h with sigma_0 = sqrt(1e-5) the true types and atomic numbers have probability ~1;
    a z_0 whose one-hot points elsewhere has a much lower one."""
    _, types, mask = _molecules()
    z = encode(torch.zeros(*mask.shape, 3, dtype=torch.float64), types, mask)
    sigma0 = torch.full((3,), math.sqrt(1e-5), dtype=torch.float64)
    assert log_p_h_given_z0(z[..., 3:], z[..., 3:], sigma0, mask).abs().max() < 1e-6
    wrong = z[..., 3:].clone()
    wrong[..., :5] = wrong[..., :5].roll(1, dims=-1)
    assert (log_p_h_given_z0(wrong, z[..., 3:], sigma0, mask) < -10).all()


@pytest.mark.parametrize("name", ["egnn", "e3nn"])
def test_nll_is_invariant_to_rotation_and_translation(name):
    """With the noise rotated along (common random numbers), every VLB term is unchanged."""
    torch.manual_seed(0)
    model = build_denoiser(name, N_FEATURES, 16, 2).double()
    edm, counts = EquivariantDiffusion(timesteps=100), AtomCounts(torch.tensor([3, 4, 6, 6]))
    pos, types, mask = _molecules()
    gen = torch.Generator().manual_seed(1)
    noise = state_noise(mask)
    eps = (noise(encode(pos, types, mask), gen), noise(encode(pos, types, mask), gen))
    steps = torch.tensor([1, 40, 100])
    rot = o3.rand_matrix(dtype=torch.float64)

    def rotate(v):
        return torch.cat([v[..., :3] @ rot.T, v[..., 3:]], dim=-1)

    z, z_moved = encode(pos, types, mask), encode(pos @ rot.T + 3.0, types, mask)
    base = vlb_terms(edm, model, z, mask, counts, steps=steps, noise=eps)
    moved = vlb_terms(edm, model, z_moved, mask, counts, steps=steps, noise=tuple(map(rotate, eps)))
    for key in base:
        torch.testing.assert_close(moved[key], base[key], atol=1e-6, rtol=1e-9)
    assert torch.isfinite(base["nll"]).all() and (base["prior"] > 0).all()


def test_vlb_prior_and_dimensions():
    """The prior term is the Gaussian KL over (M - 1) 3 + M F free dimensions (3 M + M F without the CoM projection)."""
    torch.manual_seed(0)
    model = build_denoiser("egnn", N_FEATURES, 8, 1).double()
    pos, types, mask = _molecules()
    z = encode(pos, types, mask)
    counts = AtomCounts(mask.sum(1))
    for com, dims in ((True, 3 * (mask.sum(1) - 1) + 6 * mask.sum(1)), (False, 9 * mask.sum(1))):
        edm = EquivariantDiffusion(com=com)
        a1, s1 = edm.schedule.alpha_sigma(torch.ones((), dtype=torch.float64))
        q = torch.distributions.Normal(a1 * torch.ones(()), s1)
        kl_per_dim = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))  # at mean a1
        expected = dims * (kl_per_dim - 0.5 * a1**2) + 0.5 * a1**2 * z.square().sum((1, 2))
        prior = vlb_terms(edm, model, z, mask, counts, torch.Generator().manual_seed(0))["prior"]
        torch.testing.assert_close(prior, expected.to(prior.dtype))
