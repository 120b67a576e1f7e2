"""Smoke runs of the flow-matching recipes through the CLI, and what their outputs must hold."""

import json

import pytest

from genlab.core.cli import main


def train(tmp_path, name, *fields):
    assert main(["train", name, "--preset", "smoke", "--out", str(tmp_path), *fields]) == 0
    run_dir = (tmp_path / name / "latest").resolve()
    assert (run_dir / "samples.png").stat().st_size > 1000 and (run_dir / "report.md").is_file()
    return run_dir, json.loads((run_dir / "eval.json").read_text())


def test_flow_2d_from_another_density_with_ot_coupling(tmp_path):
    _, results = train(
        tmp_path,
        "flow-2d",
        "--source",
        "8gaussians",
        "--density",
        "moons",
        "--coupling",
        "ot",
        "--path",
        "trig",
    )
    assert "nll_nats" not in results  # the likelihood needs a noise source
    assert results["sliced_wasserstein"] > 0


def test_flow_2d_nll_from_noise_is_a_finite_likelihood(tmp_path):
    _, results = train(tmp_path, "flow-2d", "--coupling", "sb", "--method", "rk4")
    assert results["nll_nats"] > results["true_entropy_nats"] - 0.5  # cannot beat the entropy by much


def test_rectified_flow_stages_and_eval_from_the_run_dir(tmp_path, capsys):
    run_dir, results = train(tmp_path, "rectified-flow-2d")
    for k in (1, 2, 3):
        assert results[f"{k}rf_straightness"] >= 0 and f"{k}rf_transport_cost_l2" in results
        if k < 3:
            assert (run_dir / "stages" / f"{k}-rf" / "checkpoints" / "latest").is_file()
    assert results["distilled2rf_sw_1_step"] > 0
    capsys.readouterr()
    assert main(["eval", str(run_dir)]) == 0  # reloads every stage from its checkpoints
    again = json.loads((run_dir / "eval.json").read_text())
    assert again["2rf_straightness"] == pytest.approx(results["2rf_straightness"], rel=1e-5)


def test_interpolant_variants(tmp_path):
    _, results = train(tmp_path, "interpolant-2d")
    for key in ("linear_gamma0_sw_ode", "trig_gamma0_sw_ode", "linear_gamma1_sw_sde", "trig_gamma1_sw_sde"):
        assert results[key] > 0
    assert main(["train", "interpolant-2d", "--preset", "smoke", "--a", "0"]) == 2


def test_flow_digits_with_label_aware_ot(tmp_path):
    _, results = train(tmp_path, "flow-digits", "--coupling", "label-ot")
    assert 0 <= results["w0/accuracy"] <= 1 and results["w2/fd_digits"] > 0
    assert main(["train", "flow-digits", "--preset", "smoke", "--kind", "eps"]) == 2
