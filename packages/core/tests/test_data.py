import math

import pytest
import torch

from genlab.core.data import (
    DENSITIES,
    HELDOUT_OFFSET,
    get_density,
    heldout_generator,
    load_digits,
    load_image,
)
from genlab.core.data.images import SHIPPED


@pytest.mark.parametrize("name", sorted(DENSITIES))
def test_density_log_prob_integrates_to_one(name):
    density = get_density(name)
    g = torch.linspace(-6, 6, 281)
    grid = torch.cartesian_prod(g, g)
    mass = density.log_prob(grid).double().exp().sum().item() * (g[1] - g[0]).item() ** 2
    assert mass == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("name", sorted(DENSITIES))
def test_samples_lie_where_the_density_is(name):
    density = get_density(name)
    x = density.sample(2000, torch.Generator().manual_seed(0))
    assert x.shape == (2000, 2) and x.dtype == torch.float32
    assert torch.isfinite(density.log_prob(x)).all()


def test_checkerboard_entropy_is_log_32():
    board = get_density("checkerboard")
    assert board.entropy() == pytest.approx(math.log(32))
    assert -board.log_prob(board.sample(5000)).mean().item() == pytest.approx(math.log(32), rel=1e-6)
    assert board.log_prob(torch.tensor([[-3.0, -3.0], [-1.0, -3.0]])).isinf().tolist() == [False, True]


def test_nll_floor_is_one_seeded_entropy_estimate():
    mixture = get_density("8gaussians")
    floor = mixture.nll_floor
    assert floor == mixture.entropy(generator=torch.Generator().manual_seed(0))
    assert mixture.nll_floor == floor  # cached, not re-drawn
    assert floor == pytest.approx(mixture.entropy(generator=torch.Generator().manual_seed(1)), abs=0.02)
    assert get_density("checkerboard").nll_floor == pytest.approx(math.log(32))


def test_unknown_density_names_close_matches():
    with pytest.raises(ValueError, match="did you mean 'checkerboard'"):
        get_density("checkerbord")


def test_digits_split_is_fixed_and_disjoint():
    train, test = load_digits("train"), load_digits("test")
    assert (len(train), len(test)) == (1500, 297)
    assert train.images.shape == (1500, 1, 8, 8) and 0 <= train.images.min() and train.images.max() <= 1
    assert int(train.levels.max()) == 16
    flat_train = {tuple(x.flatten().tolist()) + (int(y),) for x, y in zip(train.levels, train.labels)}
    overlap = sum(
        tuple(x.flatten().tolist()) + (int(y),) in flat_train for x, y in zip(test.levels, test.labels)
    )
    assert overlap <= 2  # sklearn digits hold a couple of exact duplicate images
    assert torch.equal(load_digits("test").labels, test.labels)
    with pytest.raises(ValueError, match="split"):
        load_digits("valid")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_images_load_offline(name):
    img = load_image(name, size=16)
    assert img.shape[0] in (1, 3) and img.shape[1:] == (16, 16)
    assert 0 <= img.min() and img.max() <= 1 and img.std() > 0


def test_unknown_image():
    with pytest.raises(ValueError, match="astronaut"):
        load_image("astronat")


def test_heldout_generator_is_a_stream_apart_from_training():
    held = torch.randn(5, generator=heldout_generator(3))
    assert torch.equal(held, torch.randn(5, generator=torch.Generator().manual_seed(3 + HELDOUT_OFFSET)))
    assert not torch.equal(held, torch.randn(5, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(TypeError, match="seed must be an int"):
        heldout_generator(3.0)
