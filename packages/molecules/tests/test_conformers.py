import numpy as np
import pytest
from rdkit import Chem

from genlab.molecules.cli import main
from genlab.molecules.conformers import build_conformers, cache_path, default_cache_dir, embed
from genlab.molecules.dataset import qm9like_dataset

SMILES = ["CCO", "C1CC", "c1ccncc1", "[Li]C", "OC1CC1"]


def test_embed_gives_explicit_h_mmff_geometry():
    mol = embed("CCO", seed=3)
    assert mol.GetNumAtoms() == 9 and mol.GetNumConformers() == 1
    d = mol.GetConformer().GetPositions()
    assert 1.4 < np.linalg.norm(d[0] - d[1]) < 1.6  # C-C
    assert np.allclose(embed("CCO", seed=3).GetConformer().GetPositions(), d)  # seeded


def test_failures_are_counted_and_cache_reused(tmp_path):
    confs = build_conformers(SMILES, cache_dir=tmp_path, progress=False)
    assert [m.GetProp("_Name") for m in confs.mols] == ["CCO", "c1ccncc1", "OC1CC1"]
    assert set(confs.failed) == {"C1CC", "[Li]C"}
    assert "parse" in confs.failed["C1CC"] and "MMFF" in confs.failed["[Li]C"]
    assert confs.path == cache_path(SMILES, 0, tmp_path) and confs.path.exists()
    again = build_conformers(SMILES, cache_dir=tmp_path, progress=False)
    assert again.failed == confs.failed
    for a, b in zip(again.mols, confs.mols):
        assert np.array_equal(a.GetConformer().GetPositions(), b.GetConformer().GetPositions())
    assert all(a.GetNumImplicitHs() == 0 for m in again.mols for a in m.GetAtoms())


def test_parallel_matches_serial(tmp_path):
    serial = build_conformers(SMILES[:3], cache_dir=tmp_path / "a", progress=False)
    parallel = build_conformers(SMILES[:3], cache_dir=tmp_path / "b", n_workers=2, progress=False)
    assert [Chem.MolToMolBlock(m) for m in serial.mols] == [Chem.MolToMolBlock(m) for m in parallel.mols]
    with pytest.raises(ValueError, match="n_workers"):
        build_conformers(SMILES, cache_dir=tmp_path, n_workers=0)


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    assert default_cache_dir() == tmp_path / "molecules"
    assert cache_path(["C"], 0).parent == tmp_path / "molecules"
    assert cache_path(["C"], 0) != cache_path(["C"], 1) != cache_path(["N"], 0)


def test_cli_build_and_dataset_share_the_cache(tmp_path, capsys):
    assert main(["data", "build", "--limit", "4", "--workers", "1", "--cache-dir", str(tmp_path)]) == 0
    assert "of 4 molecules embedded" in capsys.readouterr().out
    files = sorted(tmp_path.iterdir())
    data = qm9like_dataset(limit=4, cache_dir=tmp_path, progress=False)
    assert sorted(tmp_path.iterdir()) == files and 1 <= len(data) <= 4
    assert data[0].pos.shape[1] == 3
    assert main(["data", "build", "--workers", "0", "--cache-dir", str(tmp_path)]) == 2


@pytest.mark.parametrize("limit", ["-5", "0", "many"])
def test_cli_refuses_a_limit_that_is_not_positive(limit, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:  # argparse refuses it before anything is built
        main(["data", "build", "--limit", limit, "--cache-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--limit" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
