"""Shared oracles for the diffusion tests: a 2D Gaussian mixture and its exact denoiser."""

import pytest
import torch

from genlab.core.data import GaussianMixture
from genlab.core.diffusion import Denoiser, MixtureDenoiser


@pytest.fixture
def mixture():
    means = torch.tensor([[-1.0, 0.5], [1.0, -0.5], [0.0, 1.5]])
    return GaussianMixture(means, torch.tensor([0.3, 0.4, 0.5]), torch.tensor([0.3, 0.3, 0.4]))


@pytest.fixture
def exact(mixture):
    """exact(schedule) -> the mixture's exact Denoiser (kind x0) under that schedule."""

    def make(schedule):
        return Denoiser(MixtureDenoiser(mixture, schedule), schedule, "x0")

    return make
