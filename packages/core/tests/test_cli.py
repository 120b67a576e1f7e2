"""The run-directory contract through the CLI, and its errors."""

import json

import pytest

from genlab.core.cli import _field_pairs, main
from genlab.core.recipe import discover, get_recipe, parse_fields
from genlab.core.trainer import TrainConfig


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_core_recipes(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert any(line.split()[:2] == ["flow-2d", "genlab-core"] for line in out.splitlines())
    assert discover()["flow-2d"].package == "genlab-core"


def test_train_sample_eval_smoke_run(tmp_path, capsys):
    code, out, err = run_cli(
        capsys,
        "train",
        "flow-2d",
        "--preset",
        "smoke",
        "--out",
        str(tmp_path),
        "--density",
        "moons",
        "--eval-every",
        "30",
    )
    assert code == 0, err
    run_dir = (tmp_path / "flow-2d" / "latest").resolve()
    assert run_dir.parent == tmp_path / "flow-2d" and run_dir.name != "latest"
    assert f"trained flow-2d: {run_dir}" in out and f"report: {run_dir / 'report.md'}" in out
    for name in ("config.json", "metrics.jsonl", "eval.json", "samples.png", "loss.png", "report.md"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "checkpoints" / "latest").read_text() == "step-00000060"
    assert sorted(p.name for p in (run_dir / "progress").iterdir()) == [
        "step-00000030.png",
        "step-00000060.png",
    ]
    evals = [
        r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "eval/mmd" in r
    ]
    assert [r["step"] for r in evals] == [30, 60]
    config = json.loads((run_dir / "config.json").read_text())
    assert (
        config["recipe"] == "flow-2d"
        and config["preset"] == "smoke"
        and config["config"]["density"] == "moons"
    )
    results = json.loads((run_dir / "eval.json").read_text())
    assert results["sliced_wasserstein"] > 0 and all(isinstance(v, float) for v in results.values())
    assert "sliced_wasserstein" in (run_dir / "report.md").read_text()

    code, out, _ = run_cli(capsys, "sample", str(run_dir), "--n", "500", "--out", str(tmp_path / "more.png"))
    assert code == 0 and (tmp_path / "more.png").stat().st_size > 1000
    code, out, _ = run_cli(capsys, "eval", str(run_dir))
    assert code == 0 and "sliced_wasserstein" in out
    evaluated = json.loads((run_dir / "eval.json").read_text())
    assert evaluated["sliced_wasserstein"] == pytest.approx(results["sliced_wasserstein"])

    # evaluation with changed fields goes to a directory of its own that records them
    own = (run_dir / "eval.json").read_text()
    code, _, err = run_cli(capsys, "eval", str(run_dir), "--method", "euler")
    assert code == 2 and "needs --out DIR" in err
    code, out, err = run_cli(
        capsys, "eval", str(run_dir), "--out", str(tmp_path / "euler"), "--method", "euler"
    )
    assert code == 0, err
    record = json.loads((tmp_path / "euler" / "config.json").read_text())
    assert record["overrides"] == {"method": "euler"} and record["config"]["method"] == "euler"
    assert record["evaluated_from"] == str(run_dir.resolve()) and record["config"]["density"] == "moons"
    assert f"report: {tmp_path / 'euler' / 'report.md'}" in out
    assert (run_dir / "eval.json").read_text() == own  # the run's own evaluation is kept
    code, _, err = run_cli(capsys, "eval", str(run_dir), "--out", str(tmp_path / "x"), "--methd", "euler")
    assert code == 2 and "did you mean 'method'" in err

    # a run shipped with its EMA weights only (no training state) still evaluates, but cannot resume
    ckpt = run_dir / "checkpoints" / "step-00000060"
    (ckpt / "optimizer.pt").unlink()
    (ckpt / "model.safetensors").unlink()
    code, out, _ = run_cli(capsys, "eval", str(tmp_path / "flow-2d"))  # the recipe folder: its latest run
    evaluated = json.loads((run_dir / "eval.json").read_text())
    assert code == 0 and evaluated["sliced_wasserstein"] == pytest.approx(results["sliced_wasserstein"])
    code, _, err = run_cli(capsys, "train", "flow-2d", "--resume", str(run_dir))
    assert code == 2 and "incomplete: missing model.safetensors, optimizer.pt" in err


def test_presets_and_typed_fields():
    recipe = get_recipe("flow-2d")
    assert recipe.make_config("smoke").steps == 60
    cfg = recipe.make_config("default", {"lr": "3e-4", "hidden": "32", "method": "rk4"})
    assert (cfg.lr, cfg.hidden, cfg.method) == (3e-4, 32, "rk4")
    pairs = _field_pairs(["--mixed_precision", "--steps", "7", "--grad_clip=0"])
    assert parse_fields(TrainConfig, pairs) == {"mixed_precision": True, "steps": 7, "grad_clip": 0.0}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "flow2d"], "unknown recipe 'flow2d'; did you mean 'flow-2d'"),
        (["train", "flow-2d", "--hiden", "3"], "did you mean 'hidden'"),
        (["train", "flow-2d", "--hidden", "wide"], "field hidden expects int, got 'wide'"),
        (["train", "flow-2d", "--method", "rk5"], "field method must be one of euler, midpoint, heun, rk4"),
        (["train", "flow-2d", "--density", "checkerbord"], "must be one of"),
        (["train", "flow-2d", "--hidden"], "has no value"),
        (["train", "flow-2d", "--hidden", "--steps", "3"], "config field --hidden has no value"),
    ],
)
def test_bad_input_gets_a_clear_error(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err


def test_bad_preset_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["train", "flow-2d", "--preset", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_missing_or_corrupt_run_directories(tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", str(tmp_path / "nowhere"))
    assert code == 2 and "not a genlab run directory" in err
    (tmp_path / "config.json").write_text("{not json")
    code, _, err = run_cli(capsys, "eval", str(tmp_path))
    assert code == 2 and "config.json is corrupt" in err
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "flow-2d", "config": {"steps": 5}}))
    code, _, err = run_cli(capsys, "sample", str(tmp_path))
    assert code == 2 and "has no checkpoint" in err


def test_python_dash_m_is_the_cli():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "genlab.core", "list"], capture_output=True, text=True, check=True
    )
    assert "flow-2d" in out.stdout


def test_resume_refuses_another_recipe_and_extra_fields(tmp_path, capsys):
    assert main(["train", "flow-2d", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run_dir = (tmp_path / "flow-2d" / "latest").resolve()
    capsys.readouterr()
    code, _, err = run_cli(capsys, "train", "rectified-flow-2d", "--resume", str(run_dir))
    assert code == 2 and "is a flow-2d run" in err
    code, _, err = run_cli(capsys, "train", "flow-2d", "--resume", str(run_dir), "--steps", "100")
    assert code == 2 and "drop --steps 100" in err
    code, _, _ = run_cli(capsys, "train", "flow-2d", "--resume", str(run_dir))
    assert code == 0
