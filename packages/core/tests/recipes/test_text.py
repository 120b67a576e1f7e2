"""Smoke runs of the four byte-level text recipes, and the config they share."""

import json
import math

import pytest
import torch

from genlab.core.cli import main
from genlab.core.recipe import get_recipe

RUNS = [
    ("text-ar", []),
    ("text-mdlm", []),
    ("text-d3pm", ["--transition", "absorbing"]),
    ("text-d3pm", ["--transition", "uniform"]),
    ("text-dfm", []),
]


@pytest.mark.parametrize("name, extra", RUNS, ids=["ar", "mdlm", "d3pm-absorbing", "d3pm-uniform", "dfm"])
def test_smoke_run_writes_bits_per_byte_speed_and_samples(tmp_path, name, extra):
    torch.manual_seed(0)
    assert main(["train", name, "--preset", "smoke", "--out", str(tmp_path), *extra]) == 0
    (run,) = (tmp_path / name).iterdir()
    results = json.loads((run / "eval.json").read_text())
    assert results["bits_per_byte"] > 0 and math.isfinite(results["bits_per_byte"])
    assert results["tokens_per_s"] > 0 and results["eval_bytes"] == 8 * 16
    assert (run / "samples.png").stat().st_size > 0
    text = (run / "samples.txt").read_text()
    assert text.count("=== sample") == 8


def test_the_four_recipes_share_size_and_budget_fields():
    configs = {
        n: get_recipe(n).make_config("default") for n in ("text-ar", "text-mdlm", "text-d3pm", "text-dfm")
    }
    shared = ("length", "dim", "depth", "heads", "steps", "batch_size", "lr", "n_eval")
    for field in shared:
        assert len({getattr(c, field) for c in configs.values()}) == 1, field


def test_method_specific_fields_are_rejected_elsewhere():
    with pytest.raises(ValueError, match="transition"):
        get_recipe("text-mdlm").make_config("smoke", {"transition": "uniform"})


def test_samples_are_bytes_of_block_length():
    torch.manual_seed(0)
    recipe = get_recipe("text-dfm")
    task = recipe.build(recipe.make_config("smoke"))
    samples = task.sample(task.model, 3)
    assert samples.shape == (3, 16) and samples.min() >= 0 and samples.max() < 256
