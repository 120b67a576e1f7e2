"""The diffusers bridge of benchmarks/diffusers_samplers.py: discrete timesteps onto genlab's t.

Oracle: with an exact Gaussian-mixture denoiser, diffusers' DDIM, Euler (DDIM in sigma = x / alpha)
and DPM-Solver++(2M) must reproduce genlab's DDIM and DPM-Solver++(2M) run on the mapped times.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from genlab.core.data import GaussianMixture
from genlab.core.diffusion import Denoiser, MixtureDenoiser, get_schedule

pytest.importorskip("diffusers")
PATH = Path(__file__).resolve().parents[4] / "benchmarks" / "diffusers_samplers.py"
spec = importlib.util.spec_from_file_location("diffusers_samplers", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


@pytest.fixture
def exact():
    sch = get_schedule("cosine")
    mixture = GaussianMixture(torch.tensor([[-1.0, 0.5], [1.0, -0.5]]), torch.tensor([0.3, 0.5]))
    return Denoiser(MixtureDenoiser(mixture, sch), sch, "x0")


def test_discrete_table_and_integer_timesteps(exact):
    scheduler = bench.make_scheduler("DDIMScheduler", exact.schedule)
    t = torch.tensor([1.0, 500.0, 1000.0], dtype=torch.float64) / 1000
    table = scheduler.alphas_cumprod[[0, 499, 999]].double()
    assert torch.allclose(table, exact.schedule.alpha_sigma(t)[0] ** 2, rtol=1e-5, atol=1e-9)
    mapped = bench.DiffusersModel(exact, scheduler).t_of(torch.tensor([0.0, 499.0, 999.0]))
    assert torch.allclose(mapped, t, atol=1e-5)  # timestep i is t = (i + 1) / 1000, noise falls with i


@pytest.mark.parametrize("nfe", [5, 10])
def test_schedulers_equal_their_genlab_twins(exact, nfe):
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    errors = bench.check_mapping(exact, x, nfe)
    assert max(errors.values()) < 1e-4, errors


def test_a_wrong_mapping_is_caught(exact, monkeypatch):
    """The check has teeth: reading timestep i as t = i / 1000 (off by one step) breaks it."""
    monkeypatch.setattr(bench.DiffusersModel, "t_of", lambda self, tau: torch.as_tensor(tau).double() / 1000)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert max(bench.check_mapping(exact, x, 10).values()) > 1e-3


def test_heun_evaluations_match(exact):
    calls = []
    counted = Denoiser(lambda x, t: calls.append(1) or exact.model(x, t), exact.schedule, "x0")
    bench.sample_diffusers(counted, "HeunDiscreteScheduler", 9, torch.randn(8, 2, dtype=torch.float64))
    assert len(calls) == 9
