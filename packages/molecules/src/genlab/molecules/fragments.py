"""Ring-preserving connected substructures of a molecule, capped with hydrogens.

The QM9-like set of Hoogeboom et al. 2022 (EDM) needs real small molecules; QM9 itself needs a
download, so we cut small pieces out of the drug-like MOSES molecules (Polykovskiy et al. 2020).
A piece is a connected set of heavy atoms that never cuts a ring bond: ring systems (rings joined
by shared atoms) are indivisible units, chain atoms are units of one. Every acyclic bond that the
cut breaks is replaced by hydrogens on the kept atom (one per unit of bond order), so the pieces
are closed-shell molecules that look like real fragments (``O=C1CCCCN1``, ``Cc1cc(CN)[nH]n1``).

Connected unit sets are enumerated once each by ESU (Wernicke 2006): a set grows only from units
with a larger index than its root, through neighbours not adjacent to the set so far.
"""

from __future__ import annotations

from collections.abc import Iterator

from rdkit import Chem


def ring_units(mol: Chem.Mol) -> list[list[int]]:
    """Heavy-atom index lists: one per ring system (atoms joined by ring bonds) and one per chain atom."""
    parent = list(range(mol.GetNumAtoms()))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for bond in mol.GetBonds():
        if bond.IsInRing():
            parent[root(bond.GetBeginAtomIdx())] = root(bond.GetEndAtomIdx())
    units: dict[int, list[int]] = {}
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() > 1:
            units.setdefault(root(atom.GetIdx()), []).append(atom.GetIdx())
    return list(units.values())


def connected_unit_sets(
    units: list[list[int]], neighbours: list[set[int]], max_atoms: int
) -> Iterator[tuple[int, ...]]:
    """Every connected set of units (ESU order) whose atoms number at most ``max_atoms``."""
    sizes = [len(u) for u in units]

    def extend(chosen: tuple[int, ...], around: set[int], frontier: set[int], size: int, root: int):
        yield chosen
        frontier = set(frontier)
        while frontier:
            w = frontier.pop()
            if size + sizes[w] > max_atoms:
                continue
            new = {u for u in neighbours[w] if u > root and u not in around}
            yield from extend(chosen + (w,), around | new, frontier | new, size + sizes[w], root)

    for v in range(len(units)):
        if sizes[v] <= max_atoms:
            start = {u for u in neighbours[v] if u > v}
            yield from extend((v,), start | {v}, start, sizes[v], v)


class Skeleton:
    """Plain-Python copy of a molecule's heavy atoms and bonds, so that cutting many pieces stays cheap."""

    def __init__(self, mol: Chem.Mol):
        self.atoms = [
            (a.GetAtomicNum(), a.GetFormalCharge(), a.GetIsAromatic(), a.GetTotalNumHs())
            for a in mol.GetAtoms()
        ]
        self.symbols = [a.GetSymbol() for a in mol.GetAtoms()]
        self.bonds = [
            (
                b.GetBeginAtomIdx(),
                b.GetEndAtomIdx(),
                b.GetBondType(),
                b.GetIsAromatic(),
                b.GetBondTypeAsDouble(),
            )
            for b in mol.GetBonds()
        ]
        self.incident: list[list[int]] = [[] for _ in self.atoms]
        for k, (i, j, *_) in enumerate(self.bonds):
            self.incident[i].append(k)
            self.incident[j].append(k)

    def capped(self, atoms: list[int]) -> Chem.Mol | None:
        """The piece on ``atoms``, each cut bond replaced by hydrogens; None if it fails to sanitise."""
        keep = {a: i for i, a in enumerate(atoms)}
        frag = Chem.RWMol()
        inside = set()
        for a in atoms:
            number, charge, aromatic, n_h = self.atoms[a]
            cut = 0.0
            for k in self.incident[a]:
                i, j, *_, order = self.bonds[k]
                if i in keep and j in keep:
                    inside.add(k)
                else:
                    cut += order
            atom = Chem.Atom(number)
            atom.SetFormalCharge(charge)
            atom.SetIsAromatic(aromatic)
            atom.SetNumExplicitHs(n_h + int(cut))
            atom.SetNoImplicit(True)
            frag.AddAtom(atom)
        for k in inside:
            i, j, kind, aromatic, _ = self.bonds[k]
            frag.AddBond(keep[i], keep[j], kind)
            frag.GetBondBetweenAtoms(keep[i], keep[j]).SetIsAromatic(aromatic)
        try:
            Chem.SanitizeMol(frag)
        except (Chem.rdchem.MolSanitizeException, ValueError):
            return None
        return frag.GetMol()


def ring_preserving_fragments(
    mol: Chem.Mol, max_atoms: int = 9, elements: frozenset[str] | None = None
) -> Iterator[Chem.Mol]:
    """Sanitised H-capped fragments of ``mol`` with at most ``max_atoms`` heavy atoms that never cut a ring bond.

    ``elements`` restricts the heavy atoms a fragment may contain (units holding others are skipped).
    """
    mol = Chem.RemoveHs(mol)
    skeleton = Skeleton(mol)
    units = ring_units(mol)
    if elements is not None:
        units = [u for u in units if all(skeleton.symbols[a] in elements for a in u)]
    unit_of = {a: k for k, unit in enumerate(units) for a in unit}
    neighbours: list[set[int]] = [set() for _ in units]
    for a, b, *_ in skeleton.bonds:
        i, j = unit_of.get(a), unit_of.get(b)
        if i is not None and j is not None and i != j:
            neighbours[i].add(j)
            neighbours[j].add(i)
    for chosen in connected_unit_sets(units, neighbours, max_atoms):
        frag = skeleton.capped(sorted(a for k in chosen for a in units[k]))
        if frag is not None:
            yield frag
