"""vae-digits: the smoke run through the CLI, the binarisation and the independent-Bernoulli floor."""

import json
import math

import pytest
import torch

from genlab.core.cli import main
from genlab.core.data import load_digits
from genlab.core.recipes.vae_digits import binarized_digits, independent_bernoulli_nll


@pytest.mark.parametrize("posterior", ["diagonal", "iaf"])
def test_smoke_run(tmp_path, posterior):
    assert (
        main(["train", "vae-digits", "--preset", "smoke", "--out", str(tmp_path), "--posterior", posterior])
        == 0
    )
    run_dir = next((tmp_path / "vae-digits").iterdir())
    results = json.loads((run_dir / "eval.json").read_text())
    assert results["test_nll"] <= results["test_neg_elbo"] + 0.1  # L_k >= ELBO
    assert results["bernoulli_floor_nll"] == pytest.approx(24.98, abs=0.01)
    assert 0 < results["test_nll"] < 64 * math.log(2) + 5
    assert (run_dir / "samples.png").stat().st_size > 1000


def test_binarisation_threshold_is_level_8_of_16():
    levels = load_digits("test").levels.flatten(1)
    x = binarized_digits("test", 8)
    assert x.shape == (297, 64) and set(x.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(x.bool(), levels >= 8) and not x[levels == 7].any()


def test_independent_bernoulli_floor_by_hand():
    train = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    test = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([2.5 / 4, 2.5 / 4])  # (count + 1/2) / (n + 1)
    expected = -(math.log(p[0]) + math.log(1 - p[1]))
    assert independent_bernoulli_nll(train, test) == pytest.approx(expected)
