import numpy as np
import pytest
import torch

from genlab.molecules.bonds import ELEMENTS
from genlab.molecules.convert import mol_to_data
from genlab.molecules.metrics import Geometry, assess, edm_metrics, novelty, uniqueness


def test_known_stable_molecules_are_fully_stable_and_valid(embedded, stable_smiles):
    for smiles in stable_smiles:
        row = assess(mol_to_data(embedded[smiles]))
        assert row.stable and row.n_stable_atoms == row.n_atoms, smiles
        assert row.valid and row.connected and row.smiles == mol_to_data(embedded[smiles]).smiles
        assert row.valid_determine and row.smiles_determine == row.smiles


def test_mmff_aromatic_rings_miss_edm_double_bond_cutoff(embedded):
    # MMFF puts aromatic C-C at ~1.39-1.40 A, right at EDM's double-bond cutoff (134 + 5 pm):
    # the ring carbons get too few bonds, the hydrogens stay stable (the "data row" ceiling).
    data = mol_to_data(embedded["c1ccccc1"])
    row = assess(data)
    assert not row.stable and row.n_stable_atoms == 6
    assert row.valid_determine and row.smiles_determine == "c1ccccc1"


def test_stretched_and_squeezed_molecules_are_unstable(embedded):
    data = mol_to_data(embedded["CCO"])
    for scale in (1.3, 0.7):
        row = assess(Geometry(data.pos.numpy() * scale, data.z.numpy()))
        assert not row.stable
    one_bond = data.clone()
    one_bond.pos[0] += torch.tensor([0.4, 0.0, 0.0])  # pull one carbon away
    assert not assess(one_bond).stable


def test_fragmented_molecule_valid_by_largest_fragment_only(embedded):
    a, b = mol_to_data(embedded["CCO"]), mol_to_data(embedded["O"])
    pos = np.concatenate([a.pos.numpy(), b.pos.numpy() + 10.0])
    row = assess((pos, np.concatenate([a.z.numpy(), b.z.numpy()])))
    assert row.stable and row.valid and not row.connected and row.smiles == "CCO"
    assert row.valid_determine and not row.connected_determine


def test_overbonded_molecule_is_invalid():
    # five hydrogens 1.09 A around a carbon: C valence 5 fails sanitisation
    dirs = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1.0]])
    pos = np.concatenate([np.zeros((1, 3)), 1.09 * dirs])
    row = assess((pos, np.array([1, 0, 0, 0, 0, 0])))
    assert not row.valid and not row.stable


def test_table_on_a_set(embedded):
    mols = [mol_to_data(embedded[s]) for s in ("O", "CCO", "CCO", "c1ccccc1")]
    out = edm_metrics(mols, train_smiles=["O", "CCO"])
    assert out["n"] == 4 and out["mol_stability"] == 0.75
    assert out["valid_connected"] == out["valid_largest_fragment"] == 1.0
    n_atoms = 3 + 9 + 9 + 12
    assert out["atom_stability"] == pytest.approx((n_atoms - 6) / n_atoms)
    for h in ("with_h", "without_h"):
        assert out[f"uniqueness_{h}"] == 0.75 and out[f"valid_and_unique_{h}"] == 0.75
    assert out["novelty"] == pytest.approx(1 / 3)
    assert out["valid_determine"] == 1.0 and out["connected_determine"] == 1.0
    truth = edm_metrics(mols, reference_smiles=["O", "CCO", "OCC", "c1ccccc1"])
    assert truth["recovered_edm"] == 0.75 and truth["recovered_determine"] == 1.0  # benzene misses EDM's rule
    with pytest.raises(ValueError, match="3 reference SMILES for 4"):
        edm_metrics(mols, reference_smiles=["O"] * 3)


def test_uniqueness_and_novelty():
    assert uniqueness(["CCO", "CCO", None, "C"]) == pytest.approx(2 / 3)
    assert np.isnan(uniqueness([None]))
    train = ["OCC", "c1ccccc1", "C#N"]
    assert novelty(train, train) == 0.0
    assert novelty(["CCO", "CCN"], train) == 0.5


def test_bad_molecules_count_as_invalid_never_crash():
    nan = (np.full((3, 3), np.nan), np.array([3, 0, 0]))
    empty = (np.zeros((0, 3)), np.zeros(0, dtype=int))
    out = edm_metrics([nan, empty])
    assert out["valid_largest_fragment"] == 0 and out["mol_stability"] == 0 and out["atom_stability"] == 0
    assert np.isnan(out["uniqueness_with_h"]) and np.isnan(out["uniqueness_without_h"])
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        assess((np.zeros((3, 2)), np.zeros(3, dtype=int)))
    with pytest.raises(ValueError, match="indices"):
        assess((np.zeros((2, 3)), np.array([0, len(ELEMENTS)])))
    with pytest.raises(ValueError, match="at least one"):
        edm_metrics([])
    with pytest.raises(ValueError, match=r"\(pos, types\[, charges\]\)"):
        assess((np.zeros((2, 3)),))


def test_uniqueness_with_hydrogens_tells_apart_what_without_them_merges(embedded):
    """EDM's code keeps explicit hydrogens in the SMILES: ethanol with its hydroxyl H pulled away
    is the same heavy-atom molecule (the O gets an implicit H back) but not the same SMILES with H."""
    whole = mol_to_data(embedded["CCO"])
    pulled = whole.clone()
    o = int((whole.z == ELEMENTS.index("O")).nonzero())
    distance = (
        (whole.pos - whole.pos[o]).norm(dim=-1).masked_fill(whole.z != ELEMENTS.index("H"), float("inf"))
    )
    h = int(distance.argmin())  # the hydroxyl hydrogen
    pulled.pos[h] += 10.0
    rows = [assess(whole), assess(pulled)]
    assert rows[0].smiles == rows[1].smiles == "CCO" and rows[0].smiles_with_h != rows[1].smiles_with_h
    out = edm_metrics([whole, pulled])
    assert out["uniqueness_without_h"] == 0.5 and out["uniqueness_with_h"] == 1.0
    assert out["valid_largest_fragment"] == 1.0 and out["valid_connected"] == 0.5


def test_scattered_atoms_are_valid_by_largest_fragment_but_never_connected():
    """Why reports lead with the connected rule: atoms scattered 5 A apart (an untrained model's
    output at its worst) share no bond, and each lone atom with implicit hydrogens sanitises."""
    rng = np.random.default_rng(0)
    clouds = []
    for _ in range(5):
        types = rng.integers(0, 5, size=6)
        clouds.append((5.0 * np.arange(6)[:, None] * np.ones(3) + rng.normal(0, 0.1, (6, 3)), types))
    out = edm_metrics(clouds, determine=False)
    assert out["valid_largest_fragment"] == 1.0 and out["valid_connected"] == 0.0
