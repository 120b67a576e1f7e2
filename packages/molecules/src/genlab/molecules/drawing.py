"""Figures and files for generated 3D molecules: an RDKit drawing grid, a 3D scatter, SDF.

Generated molecules are atoms and coordinates only; as in EDM's analysis (Hoogeboom et al. 2022)
their bonds come from inter-atomic distances (``metrics.edm_molecule``). The grid draws in 2D what
EDM's validity scores (the largest fragment; labelled stable / valid / invalid), the 3D view shows
a few as atoms and bonds in space, and the SDF keeps every molecule with its coordinates and those
bonds.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem import AllChem  # noqa: E402
from rdkit.rdBase import BlockLogs  # noqa: E402

from genlab.molecules.bonds import ELEMENTS, bond_orders  # noqa: E402
from genlab.molecules.metrics import Geometry, assess, edm_molecule  # noqa: E402

COLOURS = {"H": "#d0d0d0", "C": "#404040", "N": "#3050f8", "O": "#ff0d0d", "F": "#90e050"}


def finite(geom: Geometry) -> bool:
    """Whether the molecule has atoms and finite coordinates (a diverged sample has not)."""
    return len(geom.types) > 0 and bool(np.isfinite(geom.pos).all())


def _drawable(geom: Geometry) -> tuple[Chem.Mol, str]:
    """What EDM's validity counts, laid out in 2D: the largest fragment of a valid molecule, or the
    raw distance-inferred graph (explicit atoms only) of an invalid one; and a label. A molecule
    without finite coordinates is drawn as its atoms alone."""
    if not finite(geom):
        mol = Chem.RWMol()
        for t in geom.types:
            mol.AddAtom(Chem.Atom(ELEMENTS[int(t)]))
        return mol, "invalid, no finite coordinates"
    result = assess(geom, determine=False)
    if result.smiles is not None:
        mol = Chem.MolFromSmiles(result.smiles)
        label = ("stable" if result.stable else "valid") + ("" if result.connected else ", fragments")
    else:
        mol = edm_molecule(geom)
        for atom in mol.GetAtoms():
            atom.SetNoImplicit(True)
        mol.UpdatePropertyCache(strict=False)
        label = "invalid"
    AllChem.Compute2DCoords(mol)
    return mol, label


def draw_grid(geoms: list[Geometry], path: str | Path, per_row: int = 6, size: int = 220) -> Path:
    """PNG grid of RDKit drawings of the molecules' graphs (bonds from EDM's distance rule)."""
    try:  # imported here: RDKit's drawing needs X libraries (libXrender) that headless images may lack
        from rdkit.Chem import Draw
    except ImportError as err:
        warnings.warn(
            f"RDKit's 2D drawing is unavailable ({err}); drawing the molecules in 3D instead", stacklevel=2
        )
        return scatter_3d(geoms, path)
    with BlockLogs():
        drawn = [_drawable(g) for g in geoms]
        image = Draw.MolsToGridImage(
            [m for m, _ in drawn],
            molsPerRow=min(per_row, max(1, len(drawn))),
            subImgSize=(size, size),
            legends=[f"{i}: {label}" for i, (_, label) in enumerate(drawn)],
        )
    path = Path(path)
    image.save(path)
    return path


def scatter_3d(geoms: list[Geometry], path: str | Path, per_row: int = 3) -> Path:
    """Matplotlib 3D views of molecules: atoms coloured by element, bonds from EDM's distance rule."""
    fig = scatter_3d_figure(geoms, per_row)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def scatter_3d_figure(geoms: list[Geometry], per_row: int = 3) -> plt.Figure:
    """The figure of ``scatter_3d``, with a legend of the elements drawn (colour and marker size)."""
    if not geoms:
        raise ValueError("need at least one molecule to draw")
    rows, cols = -(-len(geoms) // per_row), min(per_row, len(geoms))
    fig = plt.figure(figsize=(3.2 * cols, 3.2 * rows + 0.4))
    for k, g in enumerate(geoms):
        ax = fig.add_subplot(rows, cols, k + 1, projection="3d")
        ax.set_axis_off()
        if not finite(g):
            ax.set_title(f"{len(g.types)} atoms, no finite coordinates", fontsize=9)
            continue
        order = bond_orders(g.pos, g.types)
        for i, j in zip(*np.nonzero(np.triu(order))):
            ax.plot(*g.pos[[i, j]].T, color="#808080", linewidth=1.0 + order[i, j])
        colours = [COLOURS[ELEMENTS[t]] for t in g.types]
        ax.scatter(*g.pos.T, c=colours, s=[_size(ELEMENTS[t]) for t in g.types], depthshade=False)
        ax.set_title(f"{len(g.types)} atoms", fontsize=9)
    drawn = sorted({int(t) for g in geoms for t in g.types})
    if drawn:
        handles = [
            Line2D(
                [], [], ls="", marker="o", color=COLOURS[ELEMENTS[t]], markersize=_size(ELEMENTS[t]) ** 0.5
            )
            for t in drawn
        ]
        fig.legend(handles, [ELEMENTS[t] for t in drawn], loc="lower center", ncols=len(drawn), frameon=False)
    fig.tight_layout(rect=(0, 0.4 / (3.2 * rows + 0.4), 1, 1))
    return fig


def _size(element: str) -> float:
    """Marker area in points squared: hydrogens small, so that the heavy-atom skeleton stands out."""
    return 30 if element == "H" else 80


def write_edm_sdf(geoms: list[Geometry], path: str | Path) -> Path:
    """SDF of the molecules with their coordinates and distance-inferred bonds (hydrogens explicit).

    Molecules without finite coordinates are left out, with a warning naming them; the others keep
    their index in the name (``sample_i``)."""
    skipped = [i for i, g in enumerate(geoms) if not finite(g)]
    blocks = []
    if skipped:
        warnings.warn(f"samples {skipped} have no finite coordinates: left out of {path}", stacklevel=2)
    with BlockLogs():
        for i, g in enumerate(geoms):
            if not finite(g):
                continue
            mol = edm_molecule(g)
            mol.UpdatePropertyCache(strict=False)
            mol.SetProp("_Name", f"sample_{i}")
            blocks.append(Chem.MolToMolBlock(mol, kekulize=False) + "$$$$\n")
    path = Path(path)
    path.write_text("".join(blocks))
    return path
