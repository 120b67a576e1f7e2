"""diffuser-maze2d and diffuser-value-guided: smoke runs through the genlab CLI on a tiny dataset, bad configs."""

import json
import runpy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from genlab.core.cli import main
from genlab.core.recipe import get_recipe
from genlab.robotics.mazes import get_maze

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
POLICIES = ("random", "expert", "diffuser", "diffuser_replan", "bc")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def test_maze2d_smoke_run(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_DATA", str(data_dir))
    assert main(["train", "diffuser-maze2d", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run_dir = next((tmp_path / "diffuser-maze2d").iterdir())
    results = json.loads((run_dir / "eval.json").read_text())
    assert results["episodes"] == 2
    for name in POLICIES:
        assert {f"{name}/score", f"{name}/success_rate", f"{name}/time_to_goal", f"{name}/return"} <= set(
            results
        )
        assert 0 <= results[f"{name}/success_rate"] <= 1
    assert results["random/score"] == 0 and results["expert/score"] == 100  # the references of the score
    assert results["expert/success_rate"] == 1
    assert 16 <= results["diffuser/plan_horizon"] <= 32
    assert (run_dir / "samples.png").stat().st_size > 1000
    assert (run_dir / "stages" / "bc" / "checkpoints").is_dir()
    assert (data_dir / "robotics" / "genlab" / "pointmaze-umaze-3000-s0-v0").is_dir()

    # the example plans one episode with the run's planner and controller settings
    figure = tmp_path / "episode.png"
    argv = ["plan_in_maze.py", str(run_dir), "--start", "3,3", "--goal", "1,1", "--out", str(figure)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(EXAMPLES / "plan_in_maze.py"), run_name="__main__")
    assert "umaze: 1 plan(s), first of" in capsys.readouterr().out and figure.stat().st_size > 1000


def test_value_guided_smoke_run(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(data_dir))
    assert main(["train", "diffuser-value-guided", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run_dir = next((tmp_path / "diffuser-value-guided").iterdir())
    results = json.loads((run_dir / "eval.json").read_text())
    for w in ("0", "10"):
        for key in (
            "plan_return",
            "plan_reach_rate",
            "plan_value",
            "ranked_plan_return",
            "ranked_reach_rate",
        ):
            assert f"w{w}/{key}" in results
        assert 0 <= results[f"w{w}/plan_return"] <= 1
    for name in ("random", "expert", "bc", "unguided", "guided"):  # side by side on the same tasks
        assert 0 <= results[f"{name}/executed_reach_rate"] <= 1
        assert 0 <= results[f"{name}/executed_return"] <= 1
    assert results["expert/executed_reach_rate"] == 1  # told the nearest target, the controller gets there
    assert (run_dir / "samples.png").stat().st_size > 1000

    # a run whose value stage is gone cannot be evaluated with guidance; one without BC drops that row
    task = get_recipe("diffuser-value-guided").build(get_recipe("diffuser-value-guided").make_config("smoke"))
    shutil.rmtree(run_dir / "stages" / "bc")
    with pytest.warns(UserWarning, match="no trained BC stage"):
        task.load_stages(run_dir)
    assert "bc" not in task.references() and {"random", "expert"} <= set(task.references())
    shutil.rmtree(run_dir / "stages" / "value")
    with pytest.raises(FileNotFoundError, match="no trained value stage"):
        task.load_stages(run_dir)


def test_references_drive_to_the_nearest_target(data_dir, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(data_dir))
    recipe = get_recipe("diffuser-value-guided")
    task = recipe.build(recipe.make_config("smoke", {"targets": "1,1;3,1"}))
    layout = get_maze("umaze")
    assert np.array_equal(task.nearest_target((1, 2)), layout.cell_to_xy(np.array([1, 1])))
    assert np.array_equal(task.nearest_target((3, 3)), layout.cell_to_xy(np.array([3, 1])))


@pytest.mark.parametrize(
    "recipe, overrides, message",
    [
        ("diffuser-maze2d", {"maze": "umase"}, "maze must be one of"),
        ("diffuser-maze2d", {"min_horizon": "64", "horizon": "32"}, "min_horizon"),
        ("diffuser-maze2d", {"horizon": "30", "min_horizon": "0", "dim_mults": "1,2,4"}, "divisible by 4"),
        ("diffuser-maze2d", {"dim_mults": "1,x"}, "dim_mults"),
        ("diffuser-value-guided", {"targets": "2,0"}, "wall"),
        ("diffuser-value-guided", {"targets": "9,9"}, "outside"),
    ],
)
def test_bad_configs_are_named(recipe, overrides, message, data_dir, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(data_dir))
    r = get_recipe(recipe)
    with pytest.raises(ValueError, match=message):
        r.build(r.make_config("smoke", overrides))


@pytest.mark.parametrize("maze, steps", [("umaze", 20_000), ("medium", 30_000), ("large", 30_000)])
def test_default_training_length_is_per_maze(maze, steps):
    recipe = get_recipe("diffuser-maze2d")
    assert recipe.make_config("default", {"maze": maze}).steps == steps
    assert recipe.make_config("default", {"maze": maze, "steps": "123"}).steps == 123
    assert recipe.make_config("smoke", {"maze": maze}).steps == 20


def test_paper_preset_is_the_papers_protocol():
    cfg = get_recipe("diffuser-maze2d").make_config("paper", {"maze": "large"})
    assert (cfg.min_horizon, cfg.plan_samples, cfg.track_kp, cfg.track_kv, cfg.replan_every) == (
        0,
        1,
        1.0,
        1.0,
        0,
    )
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.ema_decay, cfg.dim_mults) == (
        2_000_000,
        32,
        2e-4,
        0.995,
        "1,4,8",
    )
    assert get_recipe("diffuser-value-guided").make_config("paper").track_kp == 1.0
