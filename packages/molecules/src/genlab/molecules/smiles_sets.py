"""SMILES sets shipped with the package, and readers for the full MOSES files.

- ``qm9like``: neutral single-fragment molecules of at most 9 heavy atoms from C, N, O, F: the
  chemical space of QM9 that EDM (Hoogeboom et al. 2022) trains on, rebuilt offline from RDKit's
  NCI molecules and ring-preserving pieces of MOSES molecules (``genlab.molecules.build_smiles``).
- ``moses_train`` / ``moses_test``: seeded random subsets (100k / 10k) of the MOSES benchmark
  (Polykovskiy et al. 2020; MIT licence, notice in ``data/MOSES_LICENSE``). ``load_moses(split,
  path=...)`` reads the full files (``train.csv.gz`` ... from the ``molsets`` wheel) instead.

All SMILES are RDKit-canonical without stereochemistry, one per line, gzip-compressed.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

from rdkit import Chem, RDConfig

from genlab.core.lookup import lookup

DATA_DIR = Path(__file__).parent / "data"
SHIPPED = {
    "qm9like": DATA_DIR / "qm9like.smi.gz",
    "moses_train": DATA_DIR / "moses_train.smi.gz",
    "moses_test": DATA_DIR / "moses_test.smi.gz",
}
MOSES_SPLITS = ("train", "test", "test_scaffolds")
MOSES_WHEEL_DATA = "moses/dataset/data"  # inside molsets-0.3.1-py3-none-any.whl
QM9_ELEMENTS = frozenset({"H", "C", "N", "O", "F"})
QM9_MAX_HEAVY_ATOMS = 9


def canonical_smiles(smiles_or_mol: str | Chem.Mol) -> str | None:
    """RDKit-canonical SMILES without stereochemistry; None for an unparsable or empty input."""
    mol = Chem.MolFromSmiles(smiles_or_mol) if isinstance(smiles_or_mol, str) else smiles_or_mol
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return Chem.MolToSmiles(mol, isomericSmiles=False)


def is_qm9_like(mol: Chem.Mol | None) -> bool:
    """Neutral, one fragment, no radicals, 1..9 heavy atoms, only H, C, N, O, F (QM9's space)."""
    if mol is None:
        return False
    heavy = mol.GetNumHeavyAtoms()
    return (
        1 <= heavy <= QM9_MAX_HEAVY_ATOMS
        and all(a.GetSymbol() in QM9_ELEMENTS for a in mol.GetAtoms())
        and all(a.GetFormalCharge() == 0 and a.GetNumRadicalElectrons() == 0 for a in mol.GetAtoms())
        and len(Chem.GetMolFrags(mol)) == 1
    )


def _open_text(path: Path) -> io.TextIOBase:
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def _csv_smiles(f: io.TextIOBase, name: str, split: str | None) -> list[str]:
    rows = csv.DictReader(f)
    if rows.fieldnames is None or "SMILES" not in rows.fieldnames:
        raise ValueError(f"{name} has no SMILES column (columns: {rows.fieldnames})")
    if split is not None and "SPLIT" in rows.fieldnames:
        return [r["SMILES"] for r in rows if r["SPLIT"] == split]
    return [r["SMILES"] for r in rows]


def read_smiles(path: str | Path, split: str | None = None) -> list[str]:
    """SMILES from a ``.smi`` (one per line, first column) or a ``.csv`` with a SMILES column, optionally gzipped.

    A csv with a ``SPLIT`` column (MOSES's ``dataset_v1.csv``) is filtered to ``split`` when given.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SMILES file at {path}")
    with _open_text(path) as f:
        if ".csv" not in path.suffixes:
            return [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
        return _csv_smiles(f, str(path), split)


def wheel_smiles(wheel: zipfile.ZipFile, split: str) -> list[str]:
    """The MOSES ``split`` as the ``molsets`` wheel holds it (``moses/dataset/data/{split}.csv.gz``)."""
    member = f"{MOSES_WHEEL_DATA}/{split}.csv.gz"
    if member not in wheel.namelist():
        raise ValueError(f"{wheel.filename} has no {member}: not the molsets wheel")
    with gzip.open(wheel.open(member), "rt") as f:
        return _csv_smiles(f, member, split)


def write_lines(path: str | Path, lines: Iterable[str]) -> Path:
    """One entry per line; gzip-compressed when the name ends in ``.gz`` (fixed mtime, reproducible bytes)."""
    path = Path(path)
    text = "".join(f"{line}\n" for line in lines).encode()
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
            f.write(text)
    else:
        path.write_bytes(text)
    return path


def load_smiles(name: str, limit: int | None = None) -> list[str]:
    """A shipped set by name: ``qm9like``, ``moses_train`` or ``moses_test`` (first ``limit`` entries)."""
    smiles = read_smiles(lookup("SMILES set", name, SHIPPED))
    return smiles if limit is None else smiles[:limit]


def load_qm9like(limit: int | None = None) -> list[str]:
    """The shipped QM9-like SMILES (canonical, unique, in a fixed shuffled order)."""
    return load_smiles("qm9like", limit)


def load_moses(split: str = "train", path: str | Path | None = None, limit: int | None = None) -> list[str]:
    """MOSES SMILES of ``split``: the shipped subset, or the full file when ``path`` is given.

    ``path`` may be a MOSES csv(.gz) file, ``dataset_v1.csv`` (filtered by its SPLIT column), the
    ``molsets`` wheel itself (``pip download molsets --no-deps``), or its extracted ``moses/dataset/data``
    directory holding ``{split}.csv.gz``.
    """
    lookup("MOSES split", split, dict.fromkeys(MOSES_SPLITS))
    if path is None:
        if f"moses_{split}" not in SHIPPED:
            raise ValueError(f"MOSES split {split!r} is not shipped; pass path= to the full MOSES data")
        return load_smiles(f"moses_{split}", limit)
    path = Path(path)
    if path.suffix == ".whl":
        try:
            with zipfile.ZipFile(path) as wheel:
                smiles = wheel_smiles(wheel, split)
        except (zipfile.BadZipFile, FileNotFoundError) as err:
            raise ValueError(f"cannot read the wheel {path}: {err}") from err
    else:
        smiles = read_smiles(path / f"{split}.csv.gz" if path.is_dir() else path, split=split)
    return smiles if limit is None else smiles[:limit]


def nci_smiles() -> list[str]:
    """Every parsable molecule of RDKit's shipped NCI sample (``first_5K.smi``, ``first_200.props.sdf``), canonical."""
    nci = Path(RDConfig.RDDataDir) / "NCI"
    mols = [Chem.MolFromSmiles(s) for s in read_smiles(nci / "first_5K.smi")]
    mols += list(Chem.SDMolSupplier(str(nci / "first_200.props.sdf")))
    return [s for s in map(canonical_smiles, mols) if s is not None]
