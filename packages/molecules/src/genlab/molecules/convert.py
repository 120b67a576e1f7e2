"""RDKit molecules <-> torch_geometric ``Data``, and SMILES / SDF / XYZ text.

The 3D molecule of EDM (Hoogeboom et al. 2022) is a point cloud of typed atoms. A ``Data`` holds

- ``pos`` [N, 3] float32, Angstrom;
- ``z`` [N] long: index into ``ELEMENTS`` = (H, C, N, O, F) (an index, not the atomic number;
  ``ATOMIC_NUMBERS[z]`` gives that, which is what EDM calls the atom "charge" feature);
- ``charges`` [N] long: formal charges;
- ``edge_index`` [2, E] (both directions) and ``edge_attr`` [E, 4] one-hot over ``BOND_TYPES``
  (single, double, triple, aromatic; the layout of torch_geometric's QM9) when the graph is known;
- ``smiles``: canonical SMILES when known.

Molecules built from coordinates alone (XYZ, generated samples) carry no edges; bonds then come
from ``genlab.molecules.bonds`` (EDM's distance rule) or RDKit's ``DetermineBonds``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import rdDetermineBonds
from rdkit.Geometry import Point3D
from torch_geometric.data import Data

from genlab.molecules.bonds import ELEMENTS, element_index
from genlab.molecules.smiles_sets import canonical_smiles

ATOMIC_NUMBERS = (1, 6, 7, 8, 9)
BOND_TYPES = (Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC)


def mol_to_data(mol: Chem.Mol, conf_id: int = -1) -> Data:
    """``Data`` of a molecule with a 3D conformer and every hydrogen an explicit atom."""
    if mol is None or mol.GetNumAtoms() == 0:
        raise ValueError("cannot convert an empty or missing molecule")
    if mol.GetNumConformers() == 0:
        raise ValueError("molecule has no conformer: embed it first (genlab.molecules.conformers.embed)")
    if any(a.GetNumImplicitHs() for a in mol.GetAtoms()):
        raise ValueError("molecule has implicit hydrogens: add them with Chem.AddHs(mol, addCoords=True)")
    pos = torch.tensor(mol.GetConformer(conf_id).GetPositions(), dtype=torch.float32)
    if not torch.isfinite(pos).all():
        raise ValueError("molecule has non-finite coordinates")
    z = torch.tensor([element_index(a.GetSymbol()) for a in mol.GetAtoms()], dtype=torch.long)
    charges = torch.tensor([a.GetFormalCharge() for a in mol.GetAtoms()], dtype=torch.long)
    pairs, kinds = [], []
    for bond in mol.GetBonds():
        if bond.GetBondType() not in BOND_TYPES:
            raise ValueError(f"bond type {bond.GetBondType()} is not one of {[str(b) for b in BOND_TYPES]}")
        i, j, kind = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), BOND_TYPES.index(bond.GetBondType())
        pairs += [(i, j), (j, i)]
        kinds += [kind, kind]
    edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).T.contiguous()
    edge_attr = torch.nn.functional.one_hot(torch.tensor(kinds, dtype=torch.long), len(BOND_TYPES)).float()
    return Data(
        pos=pos,
        z=z,
        charges=charges,
        edge_index=edge_index,
        edge_attr=edge_attr,
        smiles=mol_smiles(mol) or "",
    )


def atoms_to_mol(pos, z, charges=None) -> Chem.RWMol:
    """An editable molecule of atoms only (no bonds, no implicit hydrogens) with one conformer."""
    pos = np.asarray(pos, dtype=np.float64)
    z = np.asarray(z)
    if pos.ndim != 2 or pos.shape[1] != 3 or z.shape != (len(pos),):
        raise ValueError(f"need positions [N, 3] and types [N], got {list(pos.shape)} and {list(z.shape)}")
    if not np.isfinite(pos).all():
        raise ValueError("positions contain NaN or inf")
    charges = np.zeros(len(z), dtype=np.int64) if charges is None else np.asarray(charges)
    mol = Chem.RWMol()
    conf = Chem.Conformer(len(z))
    for i, (t, q) in enumerate(zip(z, charges)):
        if not 0 <= int(t) < len(ELEMENTS):
            raise ValueError(f"atom type {int(t)} is not an index into {ELEMENTS}")
        atom = Chem.Atom(ELEMENTS[int(t)])
        atom.SetFormalCharge(int(q))
        atom.SetNoImplicit(True)
        mol.AddAtom(atom)
        conf.SetAtomPosition(i, Point3D(*pos[i]))
    mol.AddConformer(conf, assignId=True)
    return mol


def data_to_mol(data: Data, sanitize: bool = True) -> Chem.Mol:
    """The molecule of a ``Data``: atoms and coordinates, bonds from ``edge_index``/``edge_attr`` if present."""
    charges = getattr(data, "charges", None)
    mol = atoms_to_mol(data.pos.detach().cpu(), data.z.cpu(), None if charges is None else charges.cpu())
    if getattr(data, "edge_index", None) is not None and data.edge_index.numel():
        kinds = data.edge_attr.argmax(-1) if data.edge_attr.ndim == 2 else data.edge_attr
        for (i, j), k in zip(data.edge_index.T.tolist(), kinds.tolist()):
            if i < j:
                mol.AddBond(i, j, BOND_TYPES[k])
                if BOND_TYPES[k] == Chem.BondType.AROMATIC:
                    mol.GetBondBetweenAtoms(i, j).SetIsAromatic(True)
                    mol.GetAtomWithIdx(i).SetIsAromatic(True)
                    mol.GetAtomWithIdx(j).SetIsAromatic(True)
    if sanitize:
        Chem.SanitizeMol(mol)
    return mol.GetMol()


def mol_smiles(mol: Chem.Mol) -> str | None:
    """Canonical SMILES (hydrogens implicit, no stereo) of a molecule with a bond graph; None if it will not sanitise."""
    try:
        mol = Chem.Mol(mol)
        Chem.SanitizeMol(mol)
        return canonical_smiles(Chem.RemoveHs(mol))
    except (Chem.rdchem.MolSanitizeException, ValueError, RuntimeError):
        return None


def smiles_to_data(smiles: str, seed: int = 0) -> Data:
    """``Data`` of a SMILES with one ETKDGv3 + MMFF conformer (explicit hydrogens)."""
    from genlab.molecules.conformers import embed

    return mol_to_data(embed(smiles, seed))


def data_to_smiles(data: Data) -> str | None:
    """Canonical SMILES of a ``Data`` with edges, or perceived from its coordinates by ``DetermineBonds``."""
    if getattr(data, "edge_index", None) is not None and data.edge_index.numel():
        try:
            return mol_smiles(data_to_mol(data, sanitize=False))
        except ValueError:
            return None
    return mol_smiles(perceive_bonds(data.pos, data.z, getattr(data, "charges", None)))


def perceive_bonds(pos, z, charges=None) -> Chem.Mol | None:
    """Bond graph from coordinates by RDKit's ``DetermineBonds`` (xyz2mol, Kim & Kim 2015); None on failure."""
    try:
        mol = atoms_to_mol(pos, z, charges)
    except ValueError:
        return None
    total = int(sum(a.GetFormalCharge() for a in mol.GetAtoms()))
    for atom in mol.GetAtoms():
        atom.SetFormalCharge(0)
    try:
        rdDetermineBonds.DetermineBonds(mol, charge=total)
        Chem.SanitizeMol(mol)
    except (ValueError, RuntimeError, Chem.rdchem.MolSanitizeException):
        return None
    return mol.GetMol()


def mols_to_sdf(mols: list[Chem.Mol]) -> str:
    """SDF text of molecules with conformers (hydrogens kept)."""
    return "".join(Chem.MolToMolBlock(m) + "$$$$\n" for m in mols)


def sdf_to_mols(text: str, sanitize: bool = True) -> list[Chem.Mol | None]:
    """Molecules of SDF text, hydrogens kept; unreadable records are None."""
    supplier = Chem.SDMolSupplier()
    supplier.SetData(text, sanitize=sanitize, removeHs=False)
    return list(supplier)


def write_sdf(path: str | Path, mols: list[Chem.Mol]) -> Path:
    path = Path(path)
    path.write_text(mols_to_sdf(mols))
    return path


def read_sdf(path: str | Path, sanitize: bool = True) -> list[Chem.Mol | None]:
    return sdf_to_mols(Path(path).read_text(), sanitize)


def data_to_xyz(data: Data, comment: str = "") -> str:
    """XYZ text (element symbols and Angstrom coordinates)."""
    lines = [str(len(data.z)), comment.replace("\n", " ")]
    for t, (x, y, w) in zip(data.z.tolist(), data.pos.tolist()):
        lines.append(f"{ELEMENTS[t]} {x:.6f} {y:.6f} {w:.6f}")
    return "\n".join(lines) + "\n"


def xyz_to_data(text: str) -> Data:
    """``Data`` of XYZ text: coordinates and types only, no edges (perceive them with ``perceive_bonds``)."""
    lines = text.strip("\n").splitlines()
    try:
        n = int(lines[0])
        rows = [line.split() for line in lines[2 : 2 + n]]
        pos = torch.tensor([[float(v) for v in r[1:4]] for r in rows], dtype=torch.float32)
    except (IndexError, ValueError) as err:
        raise ValueError(f"malformed XYZ text: {err}") from None
    if len(rows) != n or pos.shape != (n, 3):
        raise ValueError(f"XYZ header says {n} atoms but {len(rows)} coordinate lines follow")
    z = torch.tensor([element_index(r[0]) for r in rows], dtype=torch.long)
    return Data(pos=pos, z=z, charges=torch.zeros(n, dtype=torch.long))


def dense_to_data_list(
    pos: torch.Tensor, z: torch.Tensor, node_mask: torch.Tensor, charges=None
) -> list[Data]:
    """Split a padded batch (pos [B, N, 3], z [B, N], node_mask [B, N]) into one ``Data`` per molecule."""
    if pos.ndim != 3 or z.shape != pos.shape[:2] or node_mask.shape != pos.shape[:2]:
        raise ValueError(f"need pos [B, N, 3], z and node_mask [B, N]; got {list(pos.shape)}, {list(z.shape)}, "
                         f"{list(node_mask.shape)}")  # fmt: skip
    charges = torch.zeros_like(z) if charges is None else charges
    out = []
    for p, t, m, q in zip(pos, z, node_mask.bool(), charges):
        out.append(Data(pos=p[m].detach().cpu().float(), z=t[m].long().cpu(), charges=q[m].long().cpu()))
    return out
