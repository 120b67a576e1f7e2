"""vae-digits: the smoke run through the CLI (digits, and MNIST from small IDX files made here), the
binarisation and the independent-Bernoulli floor."""

import json
import math

import pytest
import torch

from genlab.core.cli import main
from genlab.core.data import load_digits
from genlab.core.nflows import IAF
from genlab.core.recipes.vae_digits import RECIPE, binarize, independent_bernoulli_nll, load_images


@pytest.mark.parametrize("posterior", ["diagonal", "iaf"])
def test_smoke_run(tmp_path, posterior):
    assert (
        main(["train", "vae-digits", "--preset", "smoke", "--out", str(tmp_path), "--posterior", posterior])
        == 0
    )
    run_dir = (tmp_path / "vae-digits" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    assert results["test_nll"] <= results["test_neg_elbo"] + 0.1  # L_k >= ELBO
    assert results["bernoulli_floor_nll"] == pytest.approx(24.98, abs=0.01)
    assert 0 < results["test_nll"] < 64 * math.log(2) + 5
    assert (run_dir / "samples.png").stat().st_size > 1000


def test_binarisation_threshold_is_level_8_of_16():
    levels = load_digits("test").levels.flatten(1)
    x = binarize(load_images("digits", "test"), 0.5)
    assert x.shape == (297, 64) and set(x.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(x.bool(), levels >= 8) and not x[levels == 7].any()


def test_dynamic_binarisation_is_seeded_and_unbiased():
    grey = load_images("digits", "train")
    a, b = binarize(grey, None, seed=1), binarize(grey, None, seed=1)
    assert torch.equal(a, b) and not torch.equal(a, binarize(grey, None, seed=2))
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert not a[grey.flatten(1) == 0].any() and a[grey.flatten(1) == 1].all()
    assert abs(a.mean().item() - grey.mean().item()) < 0.01  # E[x] = grey value


@pytest.mark.parametrize("net", ["mlp", "conv"])
def test_mnist_smoke_run_with_dynamic_binarisation(tmp_path, write_mnist, net):
    write_mnist(tmp_path / "mnist", n_train=64, n_test=16)
    root = str(tmp_path / "mnist")
    args = [
        "--data",
        "mnist",
        "--data_root",
        root,
        "--binarize",
        "dynamic",
        "--batch_size",
        "32",
        "--net",
        net,
    ]
    assert main(["train", "vae-digits", "--preset", "smoke", "--out", str(tmp_path), *args]) == 0
    results = json.loads((tmp_path / "vae-digits" / "latest").resolve().joinpath("eval.json").read_text())
    assert results["test_nll"] <= results["test_neg_elbo"] + 0.1
    assert 0 < results["test_nll"] < 784 * math.log(2) + 50


def test_negative_train_eval_size_is_a_clear_error():
    with pytest.raises(ValueError, match="n_train_eval must be >= 0"):
        RECIPE.build(RECIPE.make_config("smoke", {"n_train_eval": "-1"}))


def test_mnist_without_a_root_is_a_clear_error():
    with pytest.raises(ValueError, match="needs --data_root"):
        load_images("mnist", "train")
    with pytest.raises(ValueError, match="needs --data_root"):  # the paper preset is MNIST's
        RECIPE.build(RECIPE.make_config("paper", {"posterior": "diagonal"}))


def test_paper_preset_builds_the_measured_iaf_model(tmp_path, write_mnist):
    write_mnist(tmp_path, n_train=8, n_test=4)
    task = RECIPE.build(RECIPE.make_config("paper", {"data_root": str(tmp_path)}))
    iaf_layers = [m for m in task.model.encoder.iaf.modules() if isinstance(m, IAF)]
    assert len(iaf_layers) == 2 and task.model.encoder.latent_dim == 32
    assert task.train.shape == (8, 784) and isinstance(task.model.encoder.body[1], torch.nn.Conv2d)


def test_independent_bernoulli_floor_by_hand():
    train = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    test = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([2.5 / 4, 2.5 / 4])  # (count + 1/2) / (n + 1)
    expected = -(math.log(p[0]) + math.log(1 - p[1]))
    assert independent_bernoulli_nll(train, test) == pytest.approx(expected)
