"""The EDM denoisers: E(3) equivariance (EGNN, e3nn), permutation equivariance, padding, bad inputs."""

import pytest
import torch
from e3nn import o3

from genlab.molecules.denoisers import NETWORKS, StateDenoiser, build_denoiser
from genlab.molecules.edm import N_FEATURES, encode

EQUIVARIANT = ("egnn", "e3nn")


@pytest.fixture(scope="module")
def models():
    """One small float64 model per network, built once (e3nn's code generation is slow)."""
    torch.manual_seed(0)
    return {name: build_denoiser(name, N_FEATURES, hidden=16, layers=2).double() for name in NETWORKS}


def _batch(seed=0, sizes=(7, 5, 3)):
    g = torch.Generator().manual_seed(seed)
    n = max(sizes)
    mask = torch.arange(n) < torch.tensor(sizes)[:, None]
    types = torch.randint(0, 5, (len(sizes), n), generator=g)
    z = encode(torch.randn(len(sizes), n, 3, generator=g, dtype=torch.float64), types, mask)
    z = z + 0.3 * torch.randn(z.shape, generator=g, dtype=torch.float64) * mask[..., None]
    return z, torch.rand(len(sizes), generator=g, dtype=torch.float64), mask


def _moved(z, rotation, shift):
    out = z.clone()
    out[..., :3] = z[..., :3] @ rotation.T + shift
    return out


@pytest.mark.parametrize("name", EQUIVARIANT)
@pytest.mark.parametrize("reflect", [False, True])
def test_rotation_reflection_translation(models, name, reflect):
    """eps_x rotates with the molecule and ignores translations; eps_h is unchanged (float64, 1e-5)."""
    model, (z, t, mask) = models[name], _batch()
    torch.manual_seed(1)
    rotation = o3.rand_matrix(dtype=torch.float64) * (-1 if reflect else 1)
    shift = torch.randn(3, dtype=torch.float64) * 5
    out, moved = model(z, t, node_mask=mask), model(_moved(z, rotation, shift), t, node_mask=mask)
    assert out.abs().max() > 1e-3  # the test is not vacuous
    torch.testing.assert_close(moved[..., :3], out[..., :3] @ rotation.T, atol=1e-5, rtol=0)
    torch.testing.assert_close(moved[..., 3:], out[..., 3:], atol=1e-5, rtol=0)


def test_transformer_is_not_rotation_equivariant(models):
    """The ablation's baseline reads raw coordinates, so the same check fails for it."""
    model, (z, t, mask) = models["transformer"], _batch()
    rotation = o3.rand_matrix(dtype=torch.float64)
    out, moved = model(z, t, node_mask=mask), model(_moved(z, rotation, 0.0), t, node_mask=mask)
    assert (moved[..., :3] - out[..., :3] @ rotation.T).abs().max() > 1e-3


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_permuting_atoms_permutes_outputs(models, name):
    model, (z, t, mask) = models[name], _batch(sizes=(6, 6))
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(3))
    out = model(z, t, node_mask=mask)
    torch.testing.assert_close(model(z[:, perm], t, node_mask=mask), out[:, perm], atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_padding_atoms_change_nothing(models, name):
    """Extra padding atoms holding garbage (even NaN) leave the real atoms' outputs as they were and get 0."""
    model, (z, t, mask) = models[name], _batch()
    out = model(z, t, node_mask=mask)
    padded = torch.cat([z, torch.randn(3, 4, z.shape[-1], dtype=torch.float64) * 100], dim=1)
    padded[:, :7][~mask] = float("nan")
    wide_mask = torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    wide = model(padded, t, node_mask=wide_mask)
    torch.testing.assert_close(wide[:, :7][mask], out[mask], atol=1e-10, rtol=0)
    assert wide[~wide_mask].abs().max() == 0 and out[~mask].abs().max() == 0


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_coordinate_eps_has_zero_centre_of_mass(models, name):
    model, (z, t, mask) = models[name], _batch()
    eps_x = model(z, t, node_mask=mask)[..., :3]
    assert eps_x.sum(1).abs().max() < 1e-12
    no_com = StateDenoiser(model.net, N_FEATURES, com=False)
    assert no_com(z, t, node_mask=mask)[..., :3].sum(1).abs().max() > 1e-6


def test_bad_inputs_raise_clear_errors(models):
    model, (z, t, mask) = models["egnn"], _batch()
    with pytest.raises(ValueError, match="unknown denoiser 'egn'.*egnn"):
        build_denoiser("egn", N_FEATURES, 8, 1)
    with pytest.raises(ValueError, match=r"state must have shape \[B, N, 9\]"):
        model(z[..., :5], t, node_mask=mask)
    with pytest.raises(ValueError, match="node_mask must have shape"):
        model(z, t, node_mask=mask[:, :3])
    with pytest.raises(ValueError, match="one noise level per molecule"):
        model(z, t[:2], node_mask=mask)
    with pytest.raises(ValueError, match="at least one real atom"):
        model(z, t, node_mask=torch.zeros_like(mask))
    with pytest.raises(ValueError, match="layers >= 1"):
        build_denoiser("egnn", N_FEATURES, 8, 0)
