"""dfot-video: smoke runs of DFoT and the binary-dropout baseline, every guidance setting scored."""

import json

import pytest

from genlab.core.cli import main
from genlab.core.recipe import get_recipe


@pytest.mark.parametrize("objective", ["diffusion-forcing", "uniform-future", "history-dropout"])
def test_smoke_run_scores_every_setting(tmp_path, objective):
    args = ["train", "dfot-video", "--preset", "smoke", "--objective", objective, "--out", str(tmp_path)]
    assert main(args) == 0
    run_dir = (tmp_path / "dfot-video" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    for setting in ("conditional", "fractional:2"):
        for key in ("psnr_first_chunk", "ssim_first_chunk", "psnr_first_n", "mass_ratio_last_n"):
            value = results[f"{setting}/{key}"]
            assert value == value  # present and not NaN
    assert (run_dir / "samples.png").stat().st_size > 1000 and (run_dir / "psnr.png").is_file()
    assert (run_dir / "ssim.png").is_file()


def test_bad_configs_are_refused():
    recipe = get_recipe("dfot-video")
    with pytest.raises(ValueError, match="frames - chunk"):
        recipe.build(recipe.make_config("smoke", {"context": "1"}))
    with pytest.raises(ValueError, match="did you mean"):
        recipe.build(recipe.make_config("smoke", {"guidance": "conditional,vanila:2"}))
    with pytest.raises(ValueError, match="at least one setting"):
        recipe.build(recipe.make_config("smoke", {"guidance": " , "}))


def test_clips_hold_one_digit_unless_asked_for_the_mix():
    """The empty history must mean as many digits as the held-out sequences (see dfot.py)."""
    recipe = get_recipe("dfot-video")
    task = recipe.build(recipe.make_config("smoke", {}))
    assert {len(task.train_set.labels(i)) for i in range(20)} == {1}
    assert all(len(labels) == 1 for labels in task.test_labels)
    mixed = recipe.build(recipe.make_config("smoke", {"digits": "0"}))
    assert {len(mixed.train_set.labels(i)) for i in range(20)} == {1, 2}
    with pytest.raises(ValueError, match="pass --digits 0 with --data shapes"):
        recipe.build(recipe.make_config("smoke", {"data": "shapes"}))
    recipe.build(recipe.make_config("smoke", {"data": "shapes", "digits": "0"}))  # no digits to count
