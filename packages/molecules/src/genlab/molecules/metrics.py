"""EDM's metrics for 3D molecules (Hoogeboom et al. 2022, Sec. 5 and their ``qm9/analyze.py``).

From coordinates and atom types only:

- atom stability: share of atoms whose EDM bond orders (``bonds.bond_orders``) sum to the valence;
- molecule stability: share of molecules whose atoms are all stable;
- validity: the molecule built from those bonds (hydrogens beyond them implicit) passes RDKit
  sanitisation and is one fragment (``valid_connected``, the number to lead with). EDM's code
  keeps the *largest fragment* instead (``valid_largest_fragment``, the paper's "validity"), so a
  cloud of disconnected atoms counts as valid: an untrained model scores 1.0 on it. Report it
  only beside the paper's numbers;
- uniqueness: unique SMILES among the valid, by their largest fragment, in two conventions:
  ``uniqueness_with_h`` keeps the explicit hydrogens in the SMILES, as EDM's code does
  (``mol2smiles``, the numbers of the paper's Table 2), and ``uniqueness_without_h`` removes them
  (canonical heavy-atom SMILES, the usual chemical identity; lower on noisy geometries, where
  hydrogens on the wrong atom make "different" molecules); ``valid_and_unique_*`` likewise;
- novelty: share of the unique valid SMILES (without hydrogens) absent from the training SMILES;
- a second opinion on validity from RDKit's bond perception, ``DetermineBonds`` (xyz2mol):
  ``valid_determine`` (bonds found and sanitised) and ``connected_determine``.

Always report the same numbers on the training geometries ("data" row): it is the ceiling for
that set. Bad molecules (empty, NaN or infinite coordinates) count as invalid and unstable; malformed
input (shapes that disagree, type indices outside H, C, N, O, F) raises a ValueError that names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.rdBase import BlockLogs
from torch_geometric.data import Data

from genlab.molecules.bonds import atom_stability, bond_orders, check_geometry
from genlab.molecules.convert import BOND_TYPES, atoms_to_mol, mol_smiles, perceive_bonds
from genlab.molecules.smiles_sets import canonical_smiles


@dataclass
class Geometry:
    """One molecule as EDM sees it: coordinates [N, 3] (Angstrom), type indices [N], optional formal charges."""

    pos: np.ndarray
    types: np.ndarray
    charges: np.ndarray | None = None

    @classmethod
    def of(cls, item) -> Geometry:
        """From a ``Data`` (pos, z, charges), a (pos, types[, charges]) tuple, or a ``Geometry``."""
        if isinstance(item, Geometry):
            return item
        if isinstance(item, Data):
            charges = getattr(item, "charges", None)
            charges = None if charges is None else charges.cpu().numpy()
            return cls(item.pos.detach().cpu().numpy(), item.z.cpu().numpy(), charges)
        parts = tuple(item)
        if len(parts) not in (2, 3):
            raise ValueError(f"a molecule is (pos, types[, charges]), got a sequence of {len(parts)} items")
        return cls(*(np.asarray(x.detach().cpu() if hasattr(x, "detach") else x) for x in parts))


def edm_molecule(geom: Geometry) -> Chem.RWMol:
    """EDM's ``build_molecule``: atoms plus the distance-inferred bonds, implicit hydrogens allowed; unsanitised."""
    mol = atoms_to_mol(geom.pos, geom.types, geom.charges)
    for atom in mol.GetAtoms():
        atom.SetNoImplicit(False)
    order = bond_orders(geom.pos, geom.types)
    for i, j in zip(*np.nonzero(np.triu(order))):
        mol.AddBond(int(i), int(j), BOND_TYPES[order[i, j] - 1])
    return mol


def _sanitised(mol: Chem.Mol) -> Chem.Mol | None:
    try:
        Chem.SanitizeMol(mol)
    except (Chem.rdchem.MolSanitizeException, ValueError, RuntimeError):
        return None
    return mol


def largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    return max(Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False), key=lambda m: m.GetNumAtoms())


@dataclass
class Assessment:
    """Per-molecule outcome of ``assess``."""

    n_atoms: int
    n_stable_atoms: int
    valid: bool = False
    connected: bool = False
    smiles: str | None = None  # largest-fragment canonical SMILES without hydrogens when valid
    smiles_with_h: str | None = None  # the same fragment's SMILES with its hydrogens, as EDM's code writes it
    valid_determine: bool = False
    connected_determine: bool = False
    smiles_determine: str | None = None

    @property
    def stable(self) -> bool:
        return self.n_atoms > 0 and self.n_stable_atoms == self.n_atoms


def assess(item, determine: bool = True) -> Assessment:
    """Stability, validity and SMILES of one molecule; ValueError only for malformed shapes or types."""
    geom = Geometry.of(item)
    pos, types = check_geometry(geom.pos, geom.types)
    geom = Geometry(pos, types, geom.charges)
    n_stable = int(atom_stability(pos, types, geom.charges).sum())
    if len(types) == 0 or not np.isfinite(pos).all():
        return Assessment(len(types), n_stable)
    mol = _sanitised(edm_molecule(geom))
    smiles = smiles_with_h = None
    connected = False
    if mol is not None:
        connected = len(Chem.GetMolFrags(mol)) == 1
        fragment = largest_fragment(mol)
        smiles = mol_smiles(fragment)
        smiles_with_h = Chem.MolToSmiles(fragment, isomericSmiles=False) if smiles is not None else None
    perceived = perceive_bonds(pos, types, geom.charges) if determine else None
    return Assessment(
        n_atoms=len(types),
        n_stable_atoms=n_stable,
        valid=smiles is not None,
        connected=smiles is not None and connected,
        smiles=smiles,
        smiles_with_h=smiles_with_h,
        valid_determine=perceived is not None,
        connected_determine=perceived is not None and len(Chem.GetMolFrags(perceived)) == 1,
        smiles_determine=None if perceived is None else mol_smiles(perceived),
    )


def uniqueness(smiles: Sequence[str | None]) -> float:
    """Unique / valid among canonical SMILES (None = invalid); NaN when none is valid."""
    valid = [s for s in smiles if s is not None]
    return len(set(valid)) / len(valid) if valid else float("nan")


def novelty(smiles: Iterable[str | None], train_smiles: Iterable[str]) -> float:
    """Share of the unique valid SMILES not in the training set (compared canonically); NaN when none is valid."""
    unique = {canonical_smiles(s) for s in smiles if s is not None} - {None}
    if not unique:
        return float("nan")
    train = {canonical_smiles(s) for s in train_smiles} - {None}
    return len(unique - train) / len(unique)


def edm_metrics(
    molecules: Sequence,
    train_smiles: Iterable[str] | None = None,
    determine: bool = True,
    reference_smiles: Sequence[str] | None = None,
) -> dict:
    """EDM's table for a list of molecules (``Data``, (pos, types[, charges]) tuples or ``Geometry``).

    Rates are fractions in [0, 1]: atom_stability over atoms, the rest over molecules, except
    uniqueness (over valid) and novelty (over unique valid, only with ``train_smiles``). Validity
    leads with the connected rule; the largest-fragment rule and the hydrogen conventions of
    uniqueness are named in the keys (see the module docstring). With
    ``reference_smiles`` (the true graph of each molecule, e.g. for the data row) it also reports
    how often each bond rule recovers that graph: ``recovered_edm`` and ``recovered_determine``.
    """
    if len(molecules) == 0:
        raise ValueError("edm_metrics needs at least one molecule")
    if reference_smiles is not None and len(reference_smiles) != len(molecules):
        raise ValueError(f"{len(reference_smiles)} reference SMILES for {len(molecules)} molecules")
    with BlockLogs():
        rows = [assess(m, determine) for m in molecules]
    n_atoms = sum(r.n_atoms for r in rows)
    out = {
        "n": len(rows),
        "atom_stability": sum(r.n_stable_atoms for r in rows) / n_atoms if n_atoms else 0.0,
        "mol_stability": float(np.mean([r.stable for r in rows])),
        "valid_connected": float(np.mean([r.connected for r in rows])),
        "valid_largest_fragment": float(np.mean([r.valid for r in rows])),
    }
    for name, smiles in (
        ("with_h", [r.smiles_with_h for r in rows]),
        ("without_h", [r.smiles for r in rows]),
    ):
        out[f"uniqueness_{name}"] = uniqueness(smiles)
        out[f"valid_and_unique_{name}"] = len(set(smiles) - {None}) / len(rows)
    if determine:
        out["valid_determine"] = float(np.mean([r.valid_determine for r in rows]))
        out["connected_determine"] = float(np.mean([r.connected_determine for r in rows]))
    if train_smiles is not None:
        out["novelty"] = novelty([r.smiles for r in rows], train_smiles)
    if reference_smiles is not None:
        truth = [canonical_smiles(s) for s in reference_smiles]
        out["recovered_edm"] = float(np.mean([r.connected and r.smiles == t for r, t in zip(rows, truth)]))
        if determine:
            out["recovered_determine"] = float(
                np.mean([r.smiles_determine == t for r, t in zip(rows, truth)])
            )
    return out
