"""diffuser-maze2d and diffuser-value-guided: smoke runs through the genlab CLI on a tiny dataset, bad configs."""

import json
import runpy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genlab.core.cli import main
from genlab.core.recipe import get_recipe
from genlab.robotics.mazes import get_maze
from genlab.robotics.recipes.diffuser_maze2d import DiffuserMaze2DTask

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
POLICIES = ("random", "expert", "straight", "diffuser", "diffuser_replan", "bc")
METRICS = ("score", "success_rate", "arrivals", "time_to_goal", "path_ratio", "return")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def strict_json(path: Path) -> dict:
    """The file parsed as strict JSON: NaN and infinities, which Python writes but JSON lacks, are refused."""

    def refuse(name):
        raise ValueError(f"{path} is not strict JSON: it holds {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_maze2d_smoke_run(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_DATA", str(data_dir))
    shown, save = [], DiffuserMaze2DTask.save_samples
    monkeypatch.setattr(
        DiffuserMaze2DTask, "save_samples", lambda self, s, out: shown.append(s) or save(self, s, out)
    )
    assert main(["train", "diffuser-maze2d", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run_dir = (tmp_path / "diffuser-maze2d" / "latest").resolve()
    results = strict_json(run_dir / "eval.json")
    assert results["episodes"] == 2 and results["hard/episodes"] == 2
    for prefix in ("", "hard/"):
        for name in POLICIES:
            assert {f"{prefix}{name}/{m}" for m in METRICS} <= set(results)
            assert 0 <= results[f"{prefix}{name}/success_rate"] <= 1
            arrivals = results[f"{prefix}{name}/arrivals"]
            assert arrivals == round(2 * results[f"{prefix}{name}/success_rate"])
            assert (results[f"{prefix}{name}/time_to_goal"] is None) == (arrivals == 0)
        assert results[f"{prefix}random/score"] == 0 and results[f"{prefix}expert/score"] == 100
        assert results[f"{prefix}expert/success_rate"] == 1
        for name in ("diffuser", "diffuser_replan"):
            for key in ("plan_points_in_walls", "plans_crossing_walls"):
                assert 0 <= results[f"{prefix}{name}/{key}"] <= 1
        assert 16 <= results[f"{prefix}diffuser/plan_horizon"] <= 32
    assert results["hard/straight/success_rate"] == 0  # U-Maze's hard pairs lie on either side of the wall
    assert (run_dir / "samples.png").stat().st_size > 1000
    starts = {tuple(s[1, 0].tolist()) for s in shown[0]}  # the executed paths' first positions
    assert len(shown[0]) == 8 and len(starts) == 8  # eight distinct episodes, not the two tasks repeated
    assert (run_dir / "stages" / "bc" / "checkpoints").is_dir()
    assert (data_dir / "robotics" / "genlab" / "pointmaze-umaze-3000-s0-v1").is_dir()

    # the example plans one episode with the run's planner and controller settings
    figure = tmp_path / "episode.png"
    argv = ["plan_in_maze.py", str(run_dir), "--start", "3,3", "--goal", "1,1", "--out", str(figure)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(EXAMPLES / "plan_in_maze.py"), run_name="__main__")
    assert "umaze: 1 plan(s), first of" in capsys.readouterr().out and figure.stat().st_size > 1000


@pytest.mark.parametrize("make", [lambda tmp: tmp / "nowhere", lambda tmp: tmp])
def test_plan_in_maze_names_a_missing_or_empty_run_dir(make, tmp_path, capsys):
    example = runpy.run_path(str(EXAMPLES / "plan_in_maze.py"))
    with pytest.raises(SystemExit) as exit_info:
        example["main"]([str(make(tmp_path)), "--start", "3,3", "--goal", "1,1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert str(make(tmp_path)) in err and ("no run directory" in err or "not a genlab run directory" in err)
    assert "Traceback" not in err


def test_value_guided_smoke_run(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(data_dir))
    assert main(["train", "diffuser-value-guided", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run_dir = (tmp_path / "diffuser-value-guided" / "latest").resolve()
    results = strict_json(run_dir / "eval.json")
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
    for name in ("random", "expert", "straight", "bc", "unguided", "guided"):  # on the same tasks
        assert 0 <= results[f"{name}/executed_reach_rate"] <= 1
        assert 0 <= results[f"{name}/executed_return"] <= 1
    for name in ("unguided", "guided"):
        for key in ("plan_points_in_walls", "plans_crossing_walls"):
            assert 0 <= results[f"{name}/{key}"] <= 1
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


def test_plans_start_and_end_exactly_at_states_near_the_walls(data_dir, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(data_dir))
    recipe = get_recipe("diffuser-maze2d")
    task = recipe.build(recipe.make_config("smoke"))
    start = np.array([-1.38, 1.38, -5.2, 5.2])  # the corner of cell (1, 1), at full speed into it
    goal = np.array([-1.38, -1.38])  # the corner of cell (3, 1)
    data = task.data.observations
    assert (data[:, 0].min() > start[0]) and (data[:, 1].max() < start[1])  # beyond the data's min/max
    planner = task.planner(task.model.eval(), n_samples=2)
    plans = planner.sample(start, goal, 16, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(plans[:, 0], np.repeat(start[None], 2, 0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(plans[:, -1, :2], np.repeat(goal[None], 2, 0), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="dimension 2 = 6 outside the normaliser's range"):
        task.diffuser.encode_states(np.array([[0.0, 1.0, 6.0, 0.0]]))


def test_baselines_example_prints_both_splits(capsys):
    example = runpy.run_path(str(EXAMPLES / "maze_baselines.py"))
    example["main"](["--maze", "umaze", "--episodes", "2"])
    out = capsys.readouterr().out
    # on U-Maze's hard pairs the wall stands between start and goal: driving straight never arrives
    assert "| hard tasks | straight to goal (k_p = 10) | 0.0 | 0.00 (0) | - | - | 0.0 |" in out
    assert "| random tasks | waypoint controller (expert) | 100.0 | 1.00 (2) |" in out
