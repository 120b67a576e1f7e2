"""diffusion-2d: the smoke run through the CLI, and the NFE-counted sampler table on an exact denoiser."""

import json

import pytest
import torch

from genlab.core.cli import main
from genlab.core.data import GaussianMixture
from genlab.core.diffusion import Denoiser, MixtureDenoiser, get_schedule, sample_prior
from genlab.core.diffusion.registry import sample_nfe, steps_for_nfe
from genlab.core.grids import make_grid


def test_smoke_run(tmp_path):
    argv = ["train", "diffusion-2d", "--preset", "smoke", "--out", str(tmp_path), "--kind", "eps"]
    assert main(argv + ["--schedule", "linear", "--sampler", "heun", "--grid", "karras"]) == 0
    run_dir = (tmp_path / "diffusion-2d" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    keys = ("sliced_wasserstein", "sliced_wasserstein_ancestral", "sw_ratio_to_ancestral", "nll", "nll_gap")
    assert all(k in results for k in keys) and (run_dir / "samples.png").stat().st_size > 1000
    assert results["entropy"] == pytest.approx(3.4657, abs=1e-4)  # log 32, the checkerboard's
    assert results["nll_gap"] > -0.5  # a model cannot beat the entropy by more than MC noise


def test_nfe_counts_and_grids():
    assert [steps_for_nfe("heun", n) for n in (1, 9, 10)] == [1, 5, 5]
    assert steps_for_nfe("dpmpp_2m", 10) == 10
    sch = get_schedule("cosine")
    for name in ("uniform", "logsnr", "karras"):
        g = make_grid(name, 7, (3,), schedule=sch)
        assert g.shape == (8, 3) and g[-1].eq(0).all() and (g[1:] <= g[:-1]).all()
    with pytest.raises(ValueError, match="dpmpp_2m"):
        steps_for_nfe("dpmpp2m", 10)


@pytest.mark.parametrize(
    "sampler, grid, nfe", [("dpmpp_2m", "logsnr", 20), ("heun", "karras", 39), ("ddim", "uniform", 20)]
)
def test_samplers_reach_the_mixture_moments_with_an_exact_denoiser(sampler, grid, nfe):
    """With the closed-form denoiser of a Gaussian mixture, 20 NFE recover its mean and variance; Karras's
    Heun (steps in sigma, most of them at low noise) needs 39: at 19 its variance is 16% high, the same as
    the paper's Algorithm 1 (test_samplers.py checks the two agree)."""
    torch.manual_seed(0)
    mixture = GaussianMixture(torch.tensor([[-2.0, 0.0], [2.0, 1.0]]), torch.tensor([0.5, 0.3]))
    sch = get_schedule("cosine")
    den = Denoiser(MixtureDenoiser(mixture, sch), sch, "x0")
    x = sample_prior(sch, (4000, 2), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = sample_nfe(den, sampler, grid, nfe, x)
    ref = mixture.sample(200_000, torch.Generator().manual_seed(2)).double()
    assert torch.allclose(out.mean(0), ref.mean(0), atol=0.1)
    assert torch.allclose(out.var(0), ref.var(0), rtol=0.1)
