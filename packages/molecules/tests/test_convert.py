import numpy as np
import pytest
import torch
from rdkit import Chem
from torch_geometric.loader import DataLoader

from genlab.molecules.conformers import embed
from genlab.molecules.convert import (
    ATOMIC_NUMBERS,
    ELEMENTS,
    data_to_mol,
    data_to_smiles,
    data_to_xyz,
    dense_to_data_list,
    mol_smiles,
    mol_to_data,
    mols_to_sdf,
    perceive_bonds,
    read_sdf,
    sdf_to_mols,
    smiles_to_data,
    write_sdf,
    xyz_to_data,
)
from genlab.molecules.dataset import MoleculeDataset


def test_data_layout(embedded):
    data = mol_to_data(embedded["CCO"])
    assert data.pos.shape == (9, 3) and data.pos.dtype == torch.float32
    assert [ELEMENTS[t] for t in data.z.tolist()] == ["C", "C", "O"] + ["H"] * 6
    assert [ATOMIC_NUMBERS[t] for t in data.z.tolist()][:3] == [6, 6, 8]
    assert data.charges.tolist() == [0] * 9
    assert data.edge_index.shape == (2, 16) and data.edge_attr.shape == (16, 4)
    assert data.smiles == "CCO"


def test_mol_data_mol_keeps_smiles_and_coordinates(embedded):
    for smiles, mol in embedded.items():
        data = mol_to_data(mol)
        back = data_to_mol(data)
        assert mol_smiles(back) == Chem.CanonSmiles(smiles, useChiral=0) == data.smiles
        assert np.allclose(back.GetConformer().GetPositions(), mol.GetConformer().GetPositions(), atol=1e-5)
        assert data_to_smiles(data) == data.smiles


def test_charged_molecule_round_trips():
    data = smiles_to_data("C[NH3+]")
    assert sorted(data.charges.tolist()) == [0] * 7 + [1]
    assert mol_smiles(data_to_mol(data)) == "C[NH3+]"


def test_sdf_text_and_file_round_trip(embedded, tmp_path):
    mols = [embedded["CCO"], embedded["c1ccncc1"]]
    back = sdf_to_mols(mols_to_sdf(mols))
    assert [mol_smiles(m) for m in back] == ["CCO", "c1ccncc1"]
    assert np.allclose(
        back[1].GetConformer().GetPositions(), mols[1].GetConformer().GetPositions(), atol=1e-4
    )
    path = write_sdf(tmp_path / "m.sdf", mols)
    assert [m.GetNumAtoms() for m in read_sdf(path)] == [9, 11]


def test_xyz_round_trip_and_bond_perception(embedded):
    data = mol_to_data(embedded["CC(=O)NC"])
    xyz = data_to_xyz(data, comment="N-methylacetamide")
    back = xyz_to_data(xyz)
    assert torch.equal(back.z, data.z) and torch.allclose(back.pos, data.pos, atol=1e-5)
    assert back.edge_index is None
    assert data_to_smiles(back) == "CNC(C)=O"
    assert mol_smiles(perceive_bonds(back.pos, back.z)) == "CNC(C)=O"


def test_batching_through_pyg(embedded):
    dataset = MoleculeDataset([embedded["O"], mol_to_data(embedded["CCO"]), embedded["C#N"]])
    batch = next(iter(DataLoader(dataset, batch_size=3)))
    assert batch.num_graphs == 3 and batch.pos.shape == (3 + 9 + 3, 3)
    assert batch.batch.tolist() == [0] * 3 + [1] * 9 + [2] * 3
    assert batch.smiles == ["O", "CCO", "C#N"]
    assert batch.edge_index.max() < 15  # edges are offset per molecule


def test_dense_batch_splits_by_mask():
    pos = torch.randn(2, 4, 3)
    z = torch.tensor([[3, 0, 0, 0], [1, 1, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    out = dense_to_data_list(pos, z, mask)
    assert [d.z.tolist() for d in out] == [[3, 0, 0], [1, 1]]
    assert torch.equal(out[1].pos, pos[1, :2])
    with pytest.raises(ValueError, match="node_mask"):
        dense_to_data_list(pos, z, mask[:, :3])


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="no conformer"):
        mol_to_data(Chem.AddHs(Chem.MolFromSmiles("CCO")))
    with pytest.raises(ValueError, match="implicit hydrogens"):
        mol_to_data(Chem.RemoveHs(embed("CCO")))
    with pytest.raises(ValueError, match="element 'S'"):
        mol_to_data(embed("CS"))
    with pytest.raises(ValueError, match="empty"):
        mol_to_data(Chem.Mol())
    with pytest.raises(ValueError, match="cannot parse"):
        smiles_to_data("C1CC")
    with pytest.raises(ValueError, match="says 2 atoms but 1"):
        xyz_to_data("2\n\nC 0 0 0\n")
    with pytest.raises(ValueError, match="malformed XYZ"):
        xyz_to_data("two\n\nC 0 0 0\n")
    with pytest.raises(ValueError, match="element 'Xx'"):
        xyz_to_data("1\n\nXx 0 0 0\n")
    assert perceive_bonds(np.full((2, 3), np.nan), np.array([1, 1])) is None
