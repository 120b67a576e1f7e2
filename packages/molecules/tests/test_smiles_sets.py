import gzip
import random
import zipfile

import pytest
from rdkit import Chem

from genlab.molecules.smiles_sets import (
    DATA_DIR,
    canonical_smiles,
    is_qm9_like,
    load_moses,
    load_qm9like,
    load_smiles,
    nci_smiles,
    read_smiles,
    write_lines,
)


def test_shipped_qm9like_obeys_the_rules():
    smiles = load_qm9like()
    assert len(smiles) >= 20_000 and len(set(smiles)) == len(smiles)
    for s in random.Random(0).sample(smiles, 500):
        mol = Chem.MolFromSmiles(s)
        assert is_qm9_like(mol), s
        assert canonical_smiles(mol) == s


def test_qm9_rules_reject():
    for bad in ["CCS", "C[NH3+]", "CC.O", "CCCCCCCCCC", "[CH3]", "CCCl"]:
        assert not is_qm9_like(Chem.MolFromSmiles(bad)), bad
    assert not is_qm9_like(None)
    assert is_qm9_like(Chem.AddHs(Chem.MolFromSmiles("CC(F)(F)O")))


def test_nci_contributes_real_molecules():
    nci = [s for s in nci_smiles() if is_qm9_like(Chem.MolFromSmiles(s))]
    assert len(set(nci)) > 400
    assert set(nci) <= set(load_qm9like())


def test_shipped_moses_subsets_and_licence():
    train, test = load_moses("train"), load_moses("test", limit=50)
    assert len(train) == 100_000 and len(test) == 50
    assert all(Chem.MolFromSmiles(s) is not None for s in train[:200])
    assert "Insilico Medicine" in (DATA_DIR / "MOSES_LICENSE").read_text()
    with pytest.raises(ValueError, match="not shipped"):
        load_moses("test_scaffolds")
    with pytest.raises(ValueError, match="did you mean 'train'"):
        load_moses("trian")
    with pytest.raises(ValueError, match="SMILES set"):
        load_smiles("qm9")


def test_full_moses_files_are_read_from_a_path(tmp_path):
    with gzip.open(tmp_path / "test.csv.gz", "wt") as f:
        f.write("SMILES\nCCO\nc1ccccc1\n")
    (tmp_path / "dataset_v1.csv").write_text("SMILES,SPLIT\nCC,train\nCO,test\nCN,train\n")
    assert load_moses("test", path=tmp_path) == ["CCO", "c1ccccc1"]
    assert load_moses("train", path=tmp_path / "dataset_v1.csv") == ["CC", "CN"]
    with pytest.raises(FileNotFoundError):
        load_moses("train", path=tmp_path)
    (tmp_path / "bad.csv").write_text("smi\nCC\n")
    with pytest.raises(ValueError, match="no SMILES column"):
        read_smiles(tmp_path / "bad.csv")


def test_full_moses_files_are_read_from_the_molsets_wheel(tmp_path):
    # a wheel of the molsets layout, made here (the real one is on PyPI: pip download molsets --no-deps)
    wheel = tmp_path / "molsets-0.3.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("moses/dataset/data/train.csv.gz", gzip.compress(b"SMILES\nCCO\nc1ccccc1\nCN\n"))
    assert load_moses("train", path=wheel) == ["CCO", "c1ccccc1", "CN"]
    assert load_moses("train", path=wheel, limit=1) == ["CCO"]
    with pytest.raises(ValueError, match="not the molsets wheel"):
        load_moses("test", path=wheel)
    (tmp_path / "broken.whl").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read the wheel"):
        load_moses("train", path=tmp_path / "broken.whl")


def test_write_read_round_trip(tmp_path):
    write_lines(tmp_path / "a.smi.gz", ["CCO", "C#N"])
    assert read_smiles(tmp_path / "a.smi.gz") == ["CCO", "C#N"]
    assert canonical_smiles("not a smiles") is None and canonical_smiles("") is None
