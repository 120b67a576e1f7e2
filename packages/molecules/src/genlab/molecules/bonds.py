"""Bond orders from inter-atomic distances and EDM's stability rule (Hoogeboom et al. 2022, App. on metrics).

EDM decides bonds from 3D geometry alone: a pair of atoms at distance d (in pm) is

    triple  if d < l3 + 3,   double  if d < l2 + 5,   single  if d < l1 + 10,   else no bond,

where l1, l2, l3 are the standard single/double/triple bond lengths of the pair (each test
applies only when the shorter ones exist, e.g. H has no double bonds). The margins 10/5/3 pm were
tuned by EDM on QM9. An atom is *stable* when the summed orders of its bonds equal its valence
(H 1, C 4, N 3, O 2, F 1); a molecule is stable when every atom is.

The lengths are the standard covalent bond lengths (pm) of common reference tables (e.g. the
wiredchemist.com bond energy/length table that EDM cites), for the QM9 elements H, C, N, O, F.
"""

from __future__ import annotations

import numpy as np

from genlab.core.lookup import lookup

ELEMENTS = ("H", "C", "N", "O", "F")
MARGINS_PM = (10.0, 5.0, 3.0)  # single, double, triple
# standard bond lengths in pm, one entry per unordered pair
SINGLE_PM = {
    "HH": 74, "HC": 109, "HN": 101, "HO": 96, "HF": 92,
    "CC": 154, "CN": 147, "CO": 143, "CF": 135,
    "NN": 145, "NO": 140, "NF": 136,
    "OO": 148, "OF": 142,
    "FF": 142,
}  # fmt: skip
DOUBLE_PM = {"CC": 134, "CN": 129, "CO": 120, "NN": 125, "NO": 121, "OO": 121}
TRIPLE_PM = {"CC": 120, "CN": 116, "CO": 113, "NN": 110}
VALENCE = {"H": 1, "C": 4, "N": 3, "O": 2, "F": 1}
# formal charges shift the valence: lone-pair donors (N, O) gain a bond per + charge, the rest lose one per |charge|
DONORS = frozenset({"N", "O"})


def _table(lengths: dict[str, float], elements: tuple[str, ...]) -> np.ndarray:
    """Symmetric [K, K] matrix of lengths over ``elements``; -inf where the pair has no such bond."""
    out = np.full((len(elements), len(elements)), -np.inf)
    for i, a in enumerate(elements):
        for j, b in enumerate(elements):
            length = lengths.get(a + b, lengths.get(b + a))
            if length is not None:
                out[i, j] = length
    return out


THRESHOLDS_PM = np.stack(
    [_table(t, ELEMENTS) + m for t, m in zip((SINGLE_PM, DOUBLE_PM, TRIPLE_PM), MARGINS_PM)]
)


def distances(pos: np.ndarray) -> np.ndarray:
    """Pairwise distances [N, N] of coordinates [N, 3]."""
    return np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)


def check_geometry(pos, types) -> tuple[np.ndarray, np.ndarray]:
    """``pos`` as float64 [N, 3] and ``types`` as int [N] indices into ``ELEMENTS``; ValueError on bad shapes or types."""
    pos = np.asarray(pos, dtype=np.float64)
    types = np.asarray(types)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"positions must have shape [N, 3], got {list(pos.shape)}")
    if types.shape != (len(pos),):
        raise ValueError(
            f"atom types must have shape [{len(pos)}] to match positions, got {list(types.shape)}"
        )
    if types.size and (
        not np.issubdtype(types.dtype, np.integer) or types.min() < 0 or types.max() >= len(ELEMENTS)
    ):
        raise ValueError(f"atom types must be integer indices into {ELEMENTS}, got {types.tolist()}")
    return pos, types.astype(np.int64)


def bond_orders(pos, types) -> np.ndarray:
    """EDM's bond-order matrix [N, N] (0 none, 1, 2, 3) from coordinates in Angstrom and element indices.

    Pairs at a non-finite distance (NaN coordinates) get no bond.
    """
    pos, types = check_geometry(pos, types)
    d = 100.0 * distances(pos)  # Angstrom -> pm
    thr = THRESHOLDS_PM[:, types[:, None], types[None, :]]  # [3, N, N]
    # nested tests: a double needs the single test to pass, a triple the double one
    order = np.cumprod(d[None] < thr, axis=0).sum(axis=0)
    np.fill_diagonal(order, 0)
    return order


def allowed_valence(types, charges=None) -> np.ndarray:
    """Valence of each atom: EDM's neutral table, shifted by formal ``charges`` when given."""
    symbols = [ELEMENTS[t] for t in np.asarray(types)]
    valence = np.array([VALENCE[s] for s in symbols], dtype=np.int64)
    if charges is None:
        return valence
    q = np.asarray(charges, dtype=np.int64)
    donor = np.array([s in DONORS for s in symbols], dtype=bool)
    return np.where(donor, valence + q, valence - np.abs(q))


def atom_stability(pos, types, charges=None) -> np.ndarray:
    """Boolean [N]: summed EDM bond orders equal the allowed valence (False for atoms with NaN coordinates)."""
    order = bond_orders(pos, types)
    finite = np.isfinite(np.asarray(pos, dtype=np.float64)).all(axis=1)
    return (order.sum(axis=1) == allowed_valence(types, charges)) & finite


def element_index(symbol: str) -> int:
    """Index of an element symbol in ``ELEMENTS`` (ValueError naming the known ones)."""
    return lookup("element", symbol, {s: i for i, s in enumerate(ELEMENTS)})
