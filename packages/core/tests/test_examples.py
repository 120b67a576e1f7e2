"""The core example runs at its smallest setting (it is documentation that must work)."""

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_flow_2d.py"


def test_flow_2d_example_at_its_smoke_size(tmp_path, capsys):
    main = runpy.run_path(str(EXAMPLE))["main"]
    main(["--steps", "20", "--out", str(tmp_path / "flow.png")])
    out = capsys.readouterr().out
    assert "sliced Wasserstein to held-out data" in out and str(tmp_path / "flow.png") in out
    assert (tmp_path / "flow.png").stat().st_size > 1000
    with pytest.raises(SystemExit):  # refused by the recipe's config, before any training
        main(["--steps", "0", "--out", str(tmp_path / "never.png")])
    assert "steps" in capsys.readouterr().err and not (tmp_path / "never.png").exists()
