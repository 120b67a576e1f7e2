"""MOSES metrics without downloads (Polykovskiy et al. 2020, "Molecular Sets (MOSES)", Sec. 4).

Each is computed from SMILES with RDKit, as defined in the paper and its reference code:

- valid: share of SMILES RDKit parses and sanitises;
- unique@k: unique canonical SMILES among the first k *valid* ones, divided by k (hydrogens are
  implicit in SMILES input, so the with / without hydrogen conventions of ``metrics`` do not arise);
- novelty: share of unique valid molecules not in the training set;
- IntDiv_p = 1 - mean_i (mean_j T(i, j)^p)^(1/p) over all generated pairs (i = j included), T the
  Tanimoto similarity of Morgan fingerprints (radius 2, 1024 bits) (for p = 1 this is the paper's
  1 - mean T; for p = 2 MOSES's code averages per row, which we follow to match its tables);
- SNN: mean over generated molecules of the highest Tanimoto similarity to the reference set;
- Frag / Scaf: cosine similarity of the BRICS-fragment / Bemis-Murcko-scaffold count vectors of
  the generated and reference sets (scaffolds with fewer than ``min_rings`` = 2 rings dropped,
  as in MOSES's code);
- Filters: share passing MOSES's medicinal-chemistry filters: no ring of 8+ atoms, no charged atom,
  only C, N, S, O, F, Cl, Br, H, and no match of its MCF and PAINS SMARTS (``data/moses_mcf.csv.gz``,
  ``data/moses_pains.csv.gz``, shipped from the MIT-licensed MOSES package);
- logP, SA, QED, weight: Wasserstein-1 distance between the property values of the generated and
  reference molecules (SA from RDKit's Contrib ``sascorer``, Ertl & Schuffenhauer 2009).

FCD needs the ChemNet weights (``fcd-torch``) and is not computed here.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
from rdkit import Chem, DataStructs, RDConfig
from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from scipy.stats import wasserstein_distance

from genlab.molecules.smiles_sets import DATA_DIR

FILTER_ELEMENTS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
MAX_RING_SIZE = 7


def to_mol(smiles: str | None) -> Chem.Mol | None:
    """A sanitised molecule, or None for an invalid or empty SMILES (never raises)."""
    if not isinstance(smiles, str) or not smiles:
        return None
    mol = Chem.MolFromSmiles(smiles)
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


def valid_canonical(smiles: Sequence[str | None]) -> list[str]:
    """Canonical SMILES of the valid entries, in order."""
    return [Chem.MolToSmiles(m) for m in map(to_mol, smiles) if m is not None]


def fraction_valid(smiles: Sequence[str | None]) -> float:
    if len(smiles) == 0:
        raise ValueError("no SMILES given")
    return sum(to_mol(s) is not None for s in smiles) / len(smiles)


def unique_at(smiles: Sequence[str | None], k: int | None = None) -> float:
    """Unique share of the first k valid molecules (all of them when k is None; fewer when fewer are valid, as
    in MOSES); NaN if none is valid."""
    valid = valid_canonical(smiles)[:k]
    return len(set(valid)) / len(valid) if valid else float("nan")


def novelty(smiles: Sequence[str | None], train: Sequence[str]) -> float:
    """Unique valid molecules absent from ``train`` (canonicalised) over unique valid; NaN if none is valid."""
    gen = set(valid_canonical(smiles))
    return len(gen - set(valid_canonical(train))) / len(gen) if gen else float("nan")


@cache
def _morgan():
    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)


def fingerprints(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """Morgan fingerprints (radius 2, 1024 bits) as a float32 0/1 matrix [n, 1024]."""
    out = np.zeros((len(mols), 1024), dtype=np.float32)
    for i, mol in enumerate(mols):
        DataStructs.ConvertToNumpyArray(_morgan().GetFingerprint(mol), out[i])
    return out


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tanimoto similarity [n, m] of binary fingerprints; two empty fingerprints count as identical (1)."""
    both = a @ b.T
    either = a.sum(1)[:, None] + b.sum(1)[None, :] - both
    return np.where(either > 0, both / np.maximum(either, 1), 1.0)


def _rows(a: np.ndarray, b: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray], batch: int = 2048):
    """``reduce`` applied to each block of rows of tanimoto(a, b), concatenated."""
    return np.concatenate([reduce(tanimoto(a[i : i + batch], b)) for i in range(0, len(a), batch)])


def internal_diversity(fps: np.ndarray, p: int = 1) -> float:
    """IntDiv_p of a fingerprint matrix (MOSES's per-row power mean)."""
    if len(fps) == 0:
        return float("nan")
    return float(1 - np.mean(_rows(fps, fps, lambda t: (t**p).mean(1)) ** (1 / p)))


def snn(gen_fps: np.ndarray, ref_fps: np.ndarray) -> float:
    """Mean similarity of each generated molecule to its nearest reference neighbour."""
    if len(gen_fps) == 0 or len(ref_fps) == 0:
        return float("nan")
    return float(np.mean(_rows(gen_fps, ref_fps, lambda t: t.max(1))))


def brics_fragments(mols: Sequence[Chem.Mol]) -> Counter:
    """Counts of BRICS fragments (canonical SMILES with dummy atoms)."""
    counts = Counter()
    for mol in mols:
        pieces = Chem.GetMolFrags(Chem.FragmentOnBRICSBonds(mol), asMols=True)
        counts.update(Chem.MolToSmiles(p) for p in pieces)
    return counts


def scaffolds(mols: Sequence[Chem.Mol], min_rings: int = 2) -> Counter:
    """Counts of Bemis-Murcko scaffolds with at least ``min_rings`` rings."""
    counts = Counter()
    for mol in mols:
        try:
            scaffold = MurckoScaffold.GetScaffoldForMol(mol)
        except (ValueError, RuntimeError):
            continue
        if scaffold.GetNumAtoms() and scaffold.GetRingInfo().NumRings() >= min_rings:
            counts[Chem.MolToSmiles(scaffold)] += 1
    return counts


def cosine_counts(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count dictionaries (missing keys are 0); NaN if either is empty."""
    if not a or not b:
        return float("nan")
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    return dot / (np.sqrt(sum(v * v for v in a.values())) * np.sqrt(sum(v * v for v in b.values())))


@cache
def filter_patterns() -> tuple[Chem.Mol, ...]:
    """MOSES's MCF and PAINS SMARTS (shipped copies of its ``mcf.csv`` and ``wehi_pains.csv``)."""
    smarts = []
    with gzip.open(DATA_DIR / "moses_mcf.csv.gz", "rt") as f:
        smarts += [row["smarts"] for row in csv.DictReader(f)]
    with gzip.open(DATA_DIR / "moses_pains.csv.gz", "rt") as f:
        smarts += [row[0] for row in csv.reader(f)]
    return tuple(Chem.MolFromSmarts(s) for s in smarts)


def passes_filters(mol: Chem.Mol | None) -> bool:
    """MOSES's filter rule for one molecule."""
    if mol is None:
        return False
    if any(len(ring) > MAX_RING_SIZE for ring in mol.GetRingInfo().AtomRings()):
        return False
    if any(a.GetFormalCharge() != 0 or a.GetSymbol() not in FILTER_ELEMENTS for a in mol.GetAtoms()):
        return False
    with_h = Chem.AddHs(mol)
    return not any(with_h.HasSubstructMatch(p) for p in filter_patterns())


@cache
def _sascorer():
    path = Path(RDConfig.RDContribDir) / "SA_Score" / "sascorer.py"
    spec = importlib.util.spec_from_file_location("genlab_sascorer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility, 1 (easy) .. 10 (hard), by RDKit Contrib's ``sascorer``."""
    return float(_sascorer().calculateScore(mol))


PROPERTIES: dict[str, Callable[[Chem.Mol], float]] = {
    "logP": Crippen.MolLogP,
    "SA": sa_score,
    "QED": QED.qed,
    "weight": Descriptors.MolWt,
}


def property_distances(gen: Sequence[Chem.Mol], ref: Sequence[Chem.Mol]) -> dict[str, float]:
    """Wasserstein-1 distance of each property's distribution between generated and reference molecules."""
    if len(gen) == 0 or len(ref) == 0:
        return dict.fromkeys(PROPERTIES, float("nan"))
    return {
        name: float(wasserstein_distance([f(m) for m in gen], [f(m) for m in ref]))
        for name, f in PROPERTIES.items()
    }


def moses_metrics(
    gen: Sequence[str | None],
    ref: Sequence[str] | None = None,
    train: Sequence[str] | None = None,
    ks: Sequence[int] = (1000, 10000),
) -> dict[str, float]:
    """MOSES's table (FCD excepted) for generated SMILES; reference-set metrics need ``ref``, novelty ``train``.

    As in MOSES, everything after ``valid`` is computed on the valid molecules only.
    """
    out = {"valid": fraction_valid(gen)}
    mols = [m for m in map(to_mol, gen) if m is not None]
    for k in ks:
        out[f"unique@{k}"] = unique_at(gen, k)
    fps = fingerprints(mols)
    out["IntDiv"] = internal_diversity(fps, 1)
    out["IntDiv2"] = internal_diversity(fps, 2)
    out["Filters"] = float(np.mean([passes_filters(m) for m in mols])) if mols else float("nan")
    if train is not None:
        out["Novelty"] = novelty(gen, train)
    if ref is not None:
        ref_mols = [m for m in map(to_mol, ref) if m is not None]
        out["SNN"] = snn(fps, fingerprints(ref_mols))
        out["Frag"] = cosine_counts(brics_fragments(mols), brics_fragments(ref_mols))
        out["Scaf"] = cosine_counts(scaffolds(mols), scaffolds(ref_mols))
        out.update(property_distances(mols, ref_mols))
    return out
