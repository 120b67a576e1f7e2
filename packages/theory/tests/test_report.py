"""genlab-theory report: runs a theory recipe and turns its run directory into a markdown section."""

import json

from genlab.theory.report import EXPERIMENTS, main


def test_report_runs_one_experiment_and_writes_the_page(tmp_path):
    runs, page = tmp_path / "runs", tmp_path / "docs" / "theory.md"
    assert (
        main(
            ["report", "--runs", str(runs), "--out", str(page), "--run", "smoke", "--only", "theory-spectral"]
        )
        == 0
    )
    text = page.read_text()
    run_dir = (runs / "theory-spectral" / "latest").resolve()
    claims = json.loads((run_dir / "claims.json").read_text())
    assert claims["claims"] and all(c["statement"] in text for c in claims["claims"])
    assert text.count("| claim | verdict | evidence |") == 1  # one section run, the others listed as such
    assert (
        text.count("Not run yet.") == len(EXPERIMENTS) - 1
        and text.count("| not run yet |") == len(EXPERIMENTS) - 1
    )
    assert "| theory-spectral | " in text and " claims supported |" in text
    figure = page.parent / "theory" / "theory-spectral" / "samples.png"
    assert figure.stat().st_size > 1000 and "theory/theory-spectral/samples.png" in text
    numbers = json.loads((run_dir / "eval.json").read_text())
    assert numbers["claims"] == len(claims["claims"])
    assert numbers["claims_supported"] == sum(c["supported"] for c in claims["claims"])
