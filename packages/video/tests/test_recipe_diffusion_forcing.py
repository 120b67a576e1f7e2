"""diffusion-forcing-video: the smoke run through the CLI (train, sample), objectives, errors."""

import json

import pytest
import torch

from genlab.core.cli import main
from genlab.core.recipe import get_recipe

KEYS = (
    "psnr_first_n",
    "psnr_all",
    "divergence_horizon",
    "psnr_threshold",
    "blank_frame_psnr_all",
    "copy_last_psnr_first_n",
    "sample_frames_per_s",
    "train_frames_per_s",
)


def test_smoke_run_end_to_end(tmp_path):
    assert main(["train", "diffusion-forcing-video", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run_dir = (tmp_path / "diffusion-forcing-video" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    for key in KEYS:
        assert key in results and results[key] == results[key]  # present and not NaN
    assert 0 <= results["divergence_horizon"] <= results["rollout_frames"] == 8
    assert results["sample_frames_per_s"] > 0 and results["train_frames_per_s"] > 0
    for name in ("samples.png", "rollout.gif", "psnr.png", "ssim.png", "identity.png"):
        assert (run_dir / name).stat().st_size > 1000
    assert main(["sample", str(run_dir), "--n", "1", "--out", str(tmp_path / "more.png")]) == 0
    assert (tmp_path / "more.gif").exists() is False and (tmp_path / "rollout.gif").is_file()


@pytest.mark.parametrize("objective", ["teacher-forcing", "full-sequence"])
def test_each_objective_rolls_out_the_way_it_was_trained(objective):
    recipe = get_recipe("diffusion-forcing-video")
    task = recipe.build(recipe.make_config("smoke", {"objective": objective, "model": "gru"}))
    plan = task.sampling_plan()
    assert plan["chunk"] == (1 if objective == "teacher-forcing" else task.cfg.chunk)
    assert plan["history"] == ("stabilized" if objective == "teacher-forcing" else "replaced")
    generated, _ = task.generate(task.model, 1)
    assert generated.shape == (1, task.rollout_frames, 1, 16, 16)


def test_bad_configs_are_named(tmp_path, capsys):
    for field, value, message in [
        ("chunk", "4", "chunk must lie in"),
        ("context", "4", "context"),
        ("objective", "teacher", "objective must be one of"),
    ]:
        argv = [
            "train",
            "diffusion-forcing-video",
            "--preset",
            "smoke",
            "--out",
            str(tmp_path),
            f"--{field}",
            value,
        ]
        assert main(argv) == 2
        assert message in capsys.readouterr().err
    recipe = get_recipe("diffusion-forcing-video")
    with pytest.raises(ValueError, match="causal by construction"):
        recipe.build(recipe.make_config("smoke", {"model": "gru", "causal": "false"}))


def test_single_digit_evaluation_scores_the_truth_as_intact():
    recipe = get_recipe("diffusion-forcing-video")
    task = recipe.build(recipe.make_config("smoke", {"eval_digits": "1", "size": "32"}))
    assert all(len(labels) == 1 for labels in task.test_labels)
    metrics = task.rollout_metrics(task.future)
    assert metrics["identity_first_n"] == metrics["identity_last_n"] == 1.0
    assert metrics["identity_horizon"] == task.rollout_frames
    with pytest.raises(ValueError, match="eval_digits >= 1 needs --data moving-digits"):
        recipe.build(recipe.make_config("smoke", {"eval_digits": "1", "data": "shapes"}))


def test_shapes_are_scored_by_colour_and_the_truth_keeps_them(tmp_path):
    recipe = get_recipe("diffusion-forcing-video")
    task = recipe.build(recipe.make_config("smoke", {"data": "shapes", "size": "32"}))
    metrics = task.rollout_metrics(task.future)
    assert metrics["colour_first_n"] == metrics["colour_last_n"] == 1.0
    assert metrics["colour_horizon"] == task.rollout_frames and "identity_first_n" not in metrics
    blank = task.rollout_metrics(torch.full_like(task.future, -1.0))
    assert blank["colour_first_n"] == 0.0 and blank["colour_horizon"] == 0
    task.save_samples(task.sample(task.model, 1), tmp_path / "samples.png")
    assert (tmp_path / "colour.png").stat().st_size > 1000 and not (tmp_path / "identity.png").exists()


def test_single_digit_training_clips_and_their_default_evaluation():
    recipe = get_recipe("diffusion-forcing-video")
    task = recipe.build(recipe.make_config("smoke", {"digits": "1", "size": "32"}))
    assert {len(task.train_set.labels(i)) for i in range(20)} == {1}
    assert all(len(labels) == 1 for labels in task.test_labels)  # eval_digits 0: as in training
    mixed = recipe.build(recipe.make_config("smoke", {"size": "32"}))
    assert {len(mixed.train_set.labels(i)) for i in range(20)} == {1, 2}
    with pytest.raises(ValueError, match="digits >= 1 needs --data moving-digits"):
        recipe.build(recipe.make_config("smoke", {"digits": "1", "data": "shapes"}))
