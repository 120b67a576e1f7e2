"""Every core sampler on every domain's schedule, noise and denoiser: what each domain relies on must
hold after any sampler, not only the one its recipe uses.

- molecules: EDM's polynomial schedule, zero centre-of-mass noise and an EGNN; the samples stay in the
  zero-CoM subspace and padding atoms stay zero (the sampler only combines x with the network's output).
- robotics: Diffuser's x0-denoiser with start/goal inpainting; every plan starts and ends exactly where
  asked (the core ``Constraint`` is re-imposed after each step).
"""

import pytest
import torch

from genlab.core.diffusion import sample_prior
from genlab.core.diffusion.registry import SAMPLERS, STOCHASTIC
from genlab.core.grids import time_grid
from genlab.molecules.denoisers import build_denoiser
from genlab.molecules.edm import N_FEATURES, EquivariantDiffusion, node_mask_of, state_noise
from genlab.robotics.diffuser import Diffuser
from genlab.robotics.normalizer import LimitsNormalizer
from genlab.robotics.temporal_unet import TemporalUnet

STEPS = 4


def run(sampler, denoiser, x, grid, **kwargs):
    extra = {"generator": torch.Generator().manual_seed(1)} if sampler in STOCHASTIC else {}
    with torch.no_grad():
        return SAMPLERS[sampler](denoiser, x, grid, **kwargs, **extra)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_molecules_stay_in_the_zero_com_subspace(sampler):
    torch.manual_seed(0)
    edm = EquivariantDiffusion()
    model = build_denoiser("egnn", N_FEATURES, hidden=16, layers=2).eval()
    mask = node_mask_of(torch.tensor([5, 3]))
    noise = state_noise(mask)
    z = noise(torch.zeros(*mask.shape, 3 + N_FEATURES), torch.Generator().manual_seed(0))
    grid = time_grid(STEPS, (2,))
    out = run(sampler, edm.denoiser(model), z, grid, noise_fn=noise, cond={"node_mask": mask})
    assert out.shape == z.shape and torch.isfinite(out).all()
    pos = out[..., :3]
    com = (pos * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    assert com.abs().max() < 1e-6 * pos.abs().max() * STEPS * 10, (com, pos.abs().max())  # float32 rounding
    assert (out[~mask.bool()] == 0).all()


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_plans_start_and_end_exactly_where_asked(sampler):
    torch.manual_seed(0)
    normalizer = LimitsNormalizer([-1.0, -1.0, -4.0, -4.0, -5.0, -5.0], [1.0, 1.0, 4.0, 4.0, 5.0, 5.0])
    diffuser = Diffuser(normalizer, act_dim=2, horizons=[16], steps=STEPS)
    model = TemporalUnet(diffuser.transition_dim, dim=8, dim_mults=(1, 2)).eval()
    start, goal = torch.tensor([[0.9, -0.99, 0.0, 0.1]] * 2), torch.tensor([[-0.7, 0.999, 0.2, 0.0]] * 2)
    constraint = diffuser.constraint(start, goal, 16)
    x = sample_prior(diffuser.schedule, (2, 16, 6), generator=torch.Generator().manual_seed(0))
    grid = time_grid(STEPS, (2,))
    plans = run(sampler, diffuser.denoiser(model, constraint), x, grid, constraint=constraint)
    assert torch.isfinite(plans).all()
    assert torch.equal(plans[:, 0, 2:], start) and torch.equal(plans[:, -1, 2:], goal)
