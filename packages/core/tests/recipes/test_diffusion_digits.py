"""diffusion-digits: the smoke run through the CLI (train, sample, eval), guidance scales, errors."""

import json

import pytest
import torch

from genlab.core.cli import main
from genlab.core.recipe import get_recipe


def test_smoke_run_and_reload(tmp_path):
    assert main(["train", "diffusion-digits", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run_dir = (tmp_path / "diffusion-digits" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    for w in ("0", "2"):
        assert 0 <= results[f"w{w}/accuracy"] <= 1 and results[f"w{w}/fd_digits"] > 0
    assert results["best_accuracy"] == max(results["w0/accuracy"], results["w2/accuracy"])
    assert results["fd_digits_data_floor"] < results["best_fd_digits"]  # 30 steps are far from data
    assert (run_dir / "samples.png").stat().st_size > 1000
    assert main(["sample", str(run_dir), "--n", "20", "--out", str(tmp_path / "more.png")]) == 0
    assert (tmp_path / "more.png").is_file()


def test_guidance_zero_is_the_conditional_model():
    torch.manual_seed(0)
    task = get_recipe("diffusion-digits").build(get_recipe("diffusion-digits").make_config("smoke"))
    for p in task.model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x, t, y = torch.randn(4, 1, 8, 8), torch.rand(4), torch.arange(4)
    guided = task.denoiser(task.model, 0.0).raw(x, t, y=y)
    assert torch.allclose(guided, task.denoiser(task.model).raw(x, t, y=y), atol=1e-6)
    assert not torch.allclose(task.denoiser(task.model, 2.0).raw(x, t, y=y), guided)


def test_bad_scale_list_is_named():
    recipe = get_recipe("diffusion-digits")
    with pytest.raises(ValueError, match="guidance_scales"):
        recipe.build(recipe.make_config("smoke", {"guidance_scales": "0,one"}))
