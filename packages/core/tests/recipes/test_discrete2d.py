"""discrete-2d: the smoke run, and the exact denoiser of the gridded checkerboard as an oracle."""

import json
import math

import torch

from genlab.core.cli import main
from genlab.core.data.toy2d import get_density
from genlab.core.discrete import nelbo
from genlab.core.recipe import get_recipe
from genlab.core.recipes.discrete2d import to_grid


def test_smoke_run(tmp_path):
    torch.manual_seed(0)
    assert main(["train", "discrete-2d", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run = (tmp_path / "discrete-2d" / "latest").resolve()
    results = json.loads((run / "eval.json").read_text())
    assert results["entropy_bits_per_token"] == 6.5
    assert 0 <= results["on_board"] <= 1 and 0 <= results["square_tv"] <= 1
    assert results["bits_per_token"] > 0
    assert (run / "samples.png").stat().st_size > 0


def exact_denoiser(task):
    """p(x0^l | x_t) of the gridded checkerboard under the mask source: uniform over 128 values while
    the other coordinate is masked, else uniform over the values that put the point on the board."""
    grid, mask = task.cfg.grid, task.path.mask_id
    values = torch.arange(grid)

    def model(x, t):
        logits = []
        for l in range(2):
            other = x[:, 1 - l]
            pair = torch.stack([values.expand(len(x), -1), other[:, None].expand(-1, grid)], -1)
            cells = pair if l == 0 else pair.flip(-1)
            allowed = task.on_board(cells) | (other == mask)[:, None]
            logits.append(torch.where(allowed, 0.0, -math.inf))
        return torch.stack(logits, 1)

    return model


def test_exact_denoiser_reaches_the_entropy():
    """The masked ELBO is tight for exact conditionals: 7 + 6 bits per point in either order."""
    torch.manual_seed(0)
    recipe = get_recipe("discrete-2d")
    task = recipe.build(recipe.make_config("smoke"))
    points = to_grid(get_density("checkerboard").sample(20_000, torch.Generator().manual_seed(1)), 128)
    assert task.on_board(points).all()
    bits = nelbo(exact_denoiser(task), task.path, points, samples=8) / (2 * math.log(2))
    stderr = bits.std().item() / math.sqrt(len(bits))
    assert stderr < 0.1
    assert abs(bits.mean().item() - 6.5) < 4 * stderr
