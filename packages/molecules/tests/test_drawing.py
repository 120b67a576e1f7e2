import sys

import numpy as np
import pytest
import rdkit.Chem
from PIL import Image

from genlab.molecules.bonds import ELEMENTS
from genlab.molecules.convert import mol_to_data
from genlab.molecules.drawing import COLOURS, draw_grid, scatter_3d, scatter_3d_figure, write_edm_sdf
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


def test_a_diverged_sample_is_drawn_and_left_out_of_the_sdf(embedded, stable_smiles, tmp_path):
    good = [Geometry.of(mol_to_data(embedded[s])) for s in stable_smiles[:2]]
    bad = Geometry(np.full_like(good[0].pos, np.nan), good[0].types)
    geoms = [good[0], bad, good[1]]
    assert draw_grid(geoms, tmp_path / "grid.png").stat().st_size > 1000
    assert scatter_3d(geoms, tmp_path / "grid_3d.png").stat().st_size > 1000
    with pytest.warns(UserWarning, match=r"samples \[1\] have no finite coordinates"):
        sdf = write_edm_sdf(geoms, tmp_path / "mols.sdf")
    read = list(rdkit.Chem.SDMolSupplier(str(sdf), removeHs=False))
    assert [m.GetProp("_Name") for m in read] == ["sample_0", "sample_2"]


def test_3d_view_has_a_legend_of_the_elements_drawn(embedded, stable_smiles, tmp_path):
    geoms = [Geometry.of(mol_to_data(embedded[s])) for s in stable_smiles]
    present = {ELEMENTS[int(t)] for g in geoms for t in g.types}
    fig = scatter_3d_figure(geoms)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [e for e in ELEMENTS if e in present]
    assert [h.get_color() for h in legend.legend_handles] == [COLOURS[e] for e in ELEMENTS if e in present]
    fig.savefig(tmp_path / "3d.png")
    with pytest.raises(ValueError, match="at least one molecule"):
        scatter_3d_figure([])
