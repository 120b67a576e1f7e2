import numpy as np
import pytest
from rdkit import DataStructs
from rdkit.Chem import rdFingerprintGenerator

from genlab.molecules.moses_metrics import (
    brics_fragments,
    cosine_counts,
    filter_patterns,
    fingerprints,
    fraction_valid,
    internal_diversity,
    moses_metrics,
    novelty,
    passes_filters,
    property_distances,
    sa_score,
    scaffolds,
    snn,
    tanimoto,
    to_mol,
    unique_at,
)
from genlab.molecules.smiles_sets import load_moses

SET = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "c1ccc2[nH]ccc2c1", "O=C(O)c1ccccc1C", "CN1CCC(CC1)c1ccccc1"]


def test_validity_and_uniqueness_with_bad_smiles():
    gen = ["CCO", "OCC", "C1CC", "", None, "c1ccccc1", "xyz"]
    assert fraction_valid(gen) == pytest.approx(3 / 7)
    assert unique_at(gen) == pytest.approx(2 / 3)
    assert unique_at(gen, k=2) == 0.5  # first two valid ones are the same molecule
    assert np.isnan(unique_at([None, "C1CC"]))
    with pytest.raises(ValueError, match="no SMILES"):
        fraction_valid([])


def test_novelty_zero_on_train_and_one_on_disjoint():
    train = load_moses("train", limit=300)
    assert novelty(train, train) == 0.0
    assert novelty(["CCO", "C#N"], train) == 1.0


def test_tanimoto_matches_rdkit():
    mols = [to_mol(s) for s in SET]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    fps = [gen.GetFingerprint(m) for m in mols]
    ref = np.array([DataStructs.BulkTanimotoSimilarity(f, fps) for f in fps])
    assert np.allclose(tanimoto(fingerprints(mols), fingerprints(mols)), ref, atol=1e-6)


def test_diversity_and_similarity_bounds():
    fps = fingerprints([to_mol(s) for s in SET])
    div = internal_diversity(fps)
    assert 0 < div < 1 and 0 < internal_diversity(fps, p=2) < 1
    assert internal_diversity(fps[[0, 0, 0]]) == pytest.approx(0.0)
    assert snn(fps[:3], fps) == pytest.approx(1.0)
    assert snn(fps[:3], fps[3:]) < 1


def test_fragment_and_scaffold_cosines():
    mols = [to_mol(s) for s in SET]
    frags = brics_fragments(mols)
    assert cosine_counts(frags, frags) == pytest.approx(1.0)
    assert frags["[16*]c1ccc(O)cc1"] == 1 and frags["[5*]N[5*]"] == 1  # paracetamol cut at the amide
    assert set(scaffolds(mols)) == {"c1ccc2[nH]ccc2c1", "c1ccc(C2CCNCC2)cc1"}  # >= 2 rings only
    assert cosine_counts({"a": 1}, {"b": 2}) == 0.0 and np.isnan(cosine_counts({}, {"a": 1}))


def test_filters():
    assert len(filter_patterns()) > 400 and all(p is not None for p in filter_patterns())
    assert passes_filters(to_mol("CC(=O)Nc1ccc(O)cc1"))
    for bad in ["C[NH3+]", "C1CCCCCCC1", "CCI", "C1OC1C", "CC=O"]:  # charge, 8-ring, I, epoxide, aldehyde
        assert not passes_filters(to_mol(bad)), bad
    assert not passes_filters(None)


def test_property_distances_and_sa():
    mols = [to_mol(s) for s in SET]
    assert all(v == 0 for v in property_distances(mols, mols).values())
    assert property_distances(mols[:3], mols[3:])["weight"] > 10
    assert 1 <= sa_score(mols[0]) <= 3


def test_full_table_against_itself():
    gen = [*SET, "bad", "CCO"]
    out = moses_metrics(gen, ref=SET, train=SET, ks=(5,))
    assert out["valid"] == pytest.approx(7 / 8) and out["unique@5"] == 1.0
    assert out["Novelty"] == 0.0 and out["SNN"] == pytest.approx(1.0)
    assert 0 < out["IntDiv"] < 1 and 0 <= out["Filters"] <= 1
    assert out["Scaf"] == pytest.approx(1.0) and 0.9 < out["Frag"] <= 1.0
