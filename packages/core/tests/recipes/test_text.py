"""Smoke runs of the four byte-level text recipes, and the config they share."""

import json
import math

import pytest
import torch

from genlab.core.cli import main
from genlab.core.data.text import blocks, load_tokens
from genlab.core.recipe import get_recipe
from genlab.core.recipes.text import MAX_LINES, WRAP, _show

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
    (run,) = [p for p in (tmp_path / name).iterdir() if not p.is_symlink()]  # not a "latest" link
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


def _ink(path) -> int:
    """How many pixels are not near-white."""
    import matplotlib.pyplot as plt

    return int((plt.imread(path)[..., :3].mean(-1) < 0.8).sum())


def test_samples_png_shows_blank_lines_as_ink(tmp_path):
    """An untrained AR model emits mostly newlines; the figure of those was blank (issue 41)."""
    recipe = get_recipe("text-ar")
    task = recipe.build(recipe.make_config("smoke"))
    newlines = torch.full((4, 16), ord("\n"))
    spaces = torch.full((4, 16), ord(" "))  # only the titles leave ink
    code = torch.tensor(list(b"def f(x):\n    return x\n"[:16])).repeat(4, 1)
    inks = {}
    for name, samples in (("newlines", newlines), ("spaces", spaces), ("code", code)):
        inks[name] = _ink(task.save_samples(samples, tmp_path / f"{name}.png"))
    assert inks["newlines"] > 1.5 * inks["spaces"] > 0
    assert inks["code"] > 1.5 * inks["spaces"]


def test_rendered_lines_are_wrapped_and_capped():
    lines = _show("a" * 300 + "\n" * 40)
    assert lines[0] == "a" * WRAP and len(lines) == MAX_LINES and lines[-1] == "..."
    assert _show("x\ny") == ["x\u21b5", "y"]


def test_more_eval_blocks_than_held_out_is_refused_and_the_paper_preset_fits():
    recipe = get_recipe("text-ar")
    with pytest.raises(ValueError, match="n_eval=10000000 held-out blocks"):
        recipe.build(recipe.make_config("smoke", {"n_eval": "10000000"}))
    paper = recipe.make_config("paper")
    assert paper.n_eval <= len(blocks(load_tokens(paper.corpus, "test"), paper.length))
