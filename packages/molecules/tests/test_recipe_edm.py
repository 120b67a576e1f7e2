"""edm-qm9like: the smoke preset end to end through the genlab CLI, then ``genlab sample`` writing SDF."""

import json
import runpy
from pathlib import Path

import pytest
from rdkit import Chem

from genlab.core.cli import main
from genlab.core.recipe import get_recipe

KEYS = (
    "atom_stability",
    "mol_stability",
    "valid_connected",
    "valid_largest_fragment",
    "uniqueness_with_h",
    "uniqueness_without_h",
    "novelty",
    "nll",
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edm")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_DATA", str(tmp / "data"))  # a tiny conformer cache, built here
        assert main(["train", "edm-qm9like", "--preset", "smoke", "--out", str(tmp)]) == 0
    return (tmp / "edm-qm9like" / "latest").resolve()


def test_smoke_run_writes_metrics_beside_the_data_row(run_dir):
    results = json.loads((run_dir / "eval.json").read_text())
    for key in KEYS:
        assert key in results
    for key in KEYS[:6]:
        assert f"data_{key}" in results and 0 <= results[key] <= 1
    assert results["n"] == results["data_n"] == 8
    assert results["data_atom_stability"] > 0.9  # MMFF geometries of real molecules
    assert all(isinstance(results[f"nll_{k}"], float) for k in ("prior", "diffusion", "neg_log_pm"))
    for figure in ("samples.png", "samples_3d.png"):
        assert (run_dir / figure).stat().st_size > 1000
    mols = Chem.SDMolSupplier(str(run_dir / "samples.sdf"), sanitize=False, removeHs=False)
    assert len(mols) == 4 and all(m is not None and m.GetNumConformers() == 1 for m in mols)


def test_genlab_sample_writes_sdf_and_figures(run_dir, tmp_path):
    out = tmp_path / "mols.png"
    assert main(["sample", str(run_dir), "--n", "3", "--out", str(out)]) == 0
    mols = Chem.SDMolSupplier(str(tmp_path / "mols.sdf"), sanitize=False, removeHs=False)
    assert len(mols) == 3 and out.exists() and (tmp_path / "mols_3d.png").exists()


def test_bad_config_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "data"))
    recipe = get_recipe("edm-qm9like")
    with pytest.raises(ValueError, match="denoiser must be one of egnn, e3nn, transformer"):
        recipe.make_config("smoke", {"denoiser": "mlp"})
    with pytest.raises(ValueError, match="not more than n_test"):
        recipe.build(recipe.make_config("smoke", {"n_molecules": "5", "n_test": "8"}))
    assert main(["train", "edm-qm9like", "--preset", "smoke", "--out", str(tmp_path), "--no_comm", "1"]) == 2


def test_example_scores_samples_beside_the_data_row(run_dir, tmp_path, capsys):
    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "generate_molecules.py"))
    example["main"](["--run", str(run_dir), "--n", "3", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    metrics = json.loads(printed[: printed.rindex("}") + 1])
    assert metrics["n"] == metrics["data_n"] == 3 and metrics["data_atom_stability"] > 0.9
    assert (tmp_path / "molecules.sdf").exists() and (tmp_path / "molecules_3d.png").exists()
