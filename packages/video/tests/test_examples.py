"""The example scripts run end to end on a smoke-trained run (they are documentation that must work)."""

import runpy
import sys
from pathlib import Path

import pytest

from genlab.core.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run_example(name, argv, monkeypatch):
    monkeypatch.setattr(sys, "argv", [name, *argv])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")


def test_rollout_and_steer_examples(tmp_path, monkeypatch, capsys):
    assert main(["train", "diffusion-forcing-video", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run = (tmp_path / "diffusion-forcing-video" / "latest").resolve()
    _run_example("rollout.py", [str(run), "--n", "1", "--out", str(tmp_path / "rollouts")], monkeypatch)
    for name in ("psnr.png", "ssim.png", "identity.png"):
        assert (tmp_path / "rollouts" / name).is_file()
    steer = [  # --n beyond the run's held-out sequences: the script uses those there are
        "--n",
        "8",
        "--frames",
        "2",
        "--mc",
        "1",
        "--out",
        str(tmp_path / "steer"),
    ]
    _run_example("steer_digit.py", [str(run), *steer], monkeypatch)
    out = capsys.readouterr().out
    assert out.count("of the generated ink inside region (0, 8, 0, 8)") == 3  # default: the top-left quarter
    assert "1.000 of the generated ink" not in out  # what a region covering the whole frame gave
    assert (tmp_path / "steer" / "steer.png").stat().st_size > 1000
    with pytest.raises(SystemExit, match="covers the whole 16x16 frame"):
        _run_example("steer_digit.py", [str(run), *steer, "--region", "0,16,0,16"], monkeypatch)
