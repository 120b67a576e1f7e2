"""The theory examples' command line: sizes valid for their recipe, presets, --set and --out.

Training is replaced by a stub that records what it was given and writes a claims.json: the
experiments themselves are tested at their smoke presets elsewhere.
"""

import json
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture
def example(monkeypatch, tmp_path):
    """Run an example's main path with argv; return (what train got, stdout) or raise SystemExit."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import _example

    calls = []

    def fake_train(recipe, cfg, preset, out):
        run_dir = out / recipe.name / "stamp"
        run_dir.mkdir(parents=True)
        claim = {"supported": True, "statement": "a claim", "evidence": "numbers"}
        (run_dir / "claims.json").write_text(json.dumps({"claims": [claim]}))
        calls.append((recipe, cfg, preset, out))
        return run_dir

    monkeypatch.setattr(_example, "train", fake_train)

    def run(script, *argv):
        monkeypatch.setattr(sys, "argv", [script, *argv])
        namespace = runpy.run_path(str(EXAMPLES / script), run_name="__main__")
        return calls[-1], namespace

    return run


def test_there_are_seven_examples():
    assert len(SCRIPTS) == 7


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_sizes_are_fields_of_its_recipe(example, script, tmp_path, capsys):
    (recipe, cfg, preset, out), namespace = example(script, "--out", str(tmp_path))
    assert preset == "default" and out == tmp_path
    assert cfg == recipe.make_config("default", namespace["SIZES"])  # the sizes are the recipe's fields
    printed = capsys.readouterr().out
    assert "supported     a claim | numbers" in printed
    assert f"run directory: {tmp_path / recipe.name / 'stamp'}" in printed


def test_smoke_preset_and_set(example, tmp_path):
    (recipe, cfg, preset, _), _ = example(
        "spectral.py", "--preset", "smoke", "--set", "steps=3", "--out", str(tmp_path)
    )
    assert preset == "smoke" and cfg.steps == 3
    assert cfg == recipe.make_config("smoke", {"steps": "3"})  # the example's own sizes are not applied


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--set", "steps"], "FIELD=VALUE"), (["--set", "stepz=3"], "stepz"), (["--set", "steps=0"], "steps")],
)
def test_bad_settings_are_refused_before_training(example, argv, message, capsys):
    with pytest.raises(SystemExit):
        example("bridges.py", *argv)
    assert message in capsys.readouterr().err
