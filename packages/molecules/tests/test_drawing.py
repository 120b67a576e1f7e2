import sys

import pytest
import rdkit.Chem
from PIL import Image

from genlab.molecules.convert import mol_to_data
from genlab.molecules.drawing import draw_grid, write_edm_sdf
from genlab.molecules.metrics import Geometry


def test_grid_draws_every_molecule_and_sdf_round_trips(embedded, stable_smiles, tmp_path):
    geoms = [Geometry.of(mol_to_data(embedded[s])) for s in stable_smiles]
    png = draw_grid(geoms, tmp_path / "grid.png", per_row=3)
    assert Image.open(png).size[0] == 3 * 220
    sdf = write_edm_sdf(geoms, tmp_path / "mols.sdf")
    read = [m for m in rdkit.Chem.SDMolSupplier(str(sdf), removeHs=False)]
    assert [m.GetNumAtoms() for m in read] == [g.pos.shape[0] for g in geoms]


def test_grid_falls_back_to_3d_without_rdkit_drawing(embedded, stable_smiles, tmp_path, monkeypatch):
    # headless images without libXrender cannot import rdkit.Chem.Draw: the figure is still written
    monkeypatch.delattr(rdkit.Chem, "Draw", raising=False)
    monkeypatch.setitem(sys.modules, "rdkit.Chem.Draw", None)
    geoms = [Geometry.of(mol_to_data(embedded[s])) for s in stable_smiles[:2]]
    with pytest.warns(UserWarning, match="drawing the molecules in 3D"):
        png = draw_grid(geoms, tmp_path / "grid.png")
    assert png.stat().st_size > 1000
