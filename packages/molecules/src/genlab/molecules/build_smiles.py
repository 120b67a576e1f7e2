"""Rebuild the shipped SMILES files (run once by the maintainers; users never need it).

``python -m genlab.molecules.build_smiles moses --wheel molsets-0.3.1-py3-none-any.whl``
    seeded subsets of MOSES train/test (Polykovskiy et al. 2020) plus its licence and filter
    SMARTS, read straight from the ``molsets`` wheel (``pip download molsets --no-deps``).
``python -m genlab.molecules.build_smiles qm9like [--sources 75000]``
    the QM9-like set for EDM (Hoogeboom et al. 2022): RDKit's NCI molecules plus ring-preserving
    H-capped pieces of the first ``--sources`` shipped MOSES molecules, kept when QM9-like
    (``smiles_sets.is_qm9_like``), canonical, unique, in a seeded shuffled order.
"""

from __future__ import annotations

import argparse
import io
import random
import zipfile

from rdkit import Chem, RDLogger
from tqdm import tqdm

from genlab.molecules.fragments import ring_preserving_fragments
from genlab.molecules.smiles_sets import (
    DATA_DIR,
    QM9_ELEMENTS,
    QM9_MAX_HEAVY_ATOMS,
    SHIPPED,
    canonical_smiles,
    is_qm9_like,
    load_moses,
    nci_smiles,
    wheel_smiles,
    write_lines,
)

WHEEL_FILTERS = {
    "moses_mcf.csv.gz": "moses/metrics/mcf.csv",
    "moses_pains.csv.gz": "moses/metrics/wehi_pains.csv",
}


def _subset(smiles: list[str], n: int, rng: random.Random) -> list[str]:
    chosen = rng.sample(smiles, min(n, len(smiles)))
    return [s for s in map(canonical_smiles, chosen) if s is not None]


def build_moses(wheel_path: str, n_train: int, n_test: int, seed: int) -> None:
    """Write the MOSES subsets, filter SMARTS and licence from the molsets wheel into ``DATA_DIR``."""
    rng = random.Random(seed)
    with zipfile.ZipFile(wheel_path) as wheel:
        for split, n in (("train", n_train), ("test", n_test)):
            write_lines(SHIPPED[f"moses_{split}"], _subset(wheel_smiles(wheel, split), n, rng))
        for name, member in WHEEL_FILTERS.items():
            write_lines(DATA_DIR / name, io.TextIOWrapper(wheel.open(member)).read().splitlines())
        licence = next(n for n in wheel.namelist() if n.endswith(".dist-info/LICENSE"))
        (DATA_DIR / "MOSES_LICENSE").write_bytes(wheel.read(licence))


def qm9like_smiles(n_sources: int, seed: int) -> list[str]:
    """NCI molecules plus ring-preserving pieces of MOSES molecules that are QM9-like; unique, shuffled."""
    found = {s for s in nci_smiles() if is_qm9_like(Chem.MolFromSmiles(s))}
    for smiles in tqdm(load_moses("train", limit=n_sources), desc="fragmenting MOSES", unit="mol"):
        mol = Chem.MolFromSmiles(smiles)
        for frag in ring_preserving_fragments(mol, QM9_MAX_HEAVY_ATOMS, QM9_ELEMENTS):
            if is_qm9_like(frag):
                found.add(canonical_smiles(frag))
    # re-parse: only SMILES that RDKit reads back to the same canonical form are kept
    kept = sorted(s for s in found if canonical_smiles(s) == s)
    random.Random(seed).shuffle(kept)
    return kept


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m genlab.molecules.build_smiles", description=__doc__.split("\n")[0]
    )
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("moses", help="MOSES subsets from the molsets wheel")
    m.add_argument("--wheel", required=True, help="path to molsets-0.3.1-py3-none-any.whl")
    m.add_argument("--train", type=int, default=100_000)
    m.add_argument("--test", type=int, default=10_000)
    q = sub.add_parser("qm9like", help="the QM9-like set from NCI and MOSES fragments")
    q.add_argument("--sources", type=int, default=75_000, help="MOSES molecules to cut into pieces")
    for s in (m, q):
        s.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    RDLogger.DisableLog("rdApp.*")
    if args.what == "moses":
        build_moses(args.wheel, args.train, args.test, args.seed)
    else:
        smiles = qm9like_smiles(args.sources, args.seed)
        print(f"{len(smiles)} unique QM9-like molecules -> {write_lines(SHIPPED['qm9like'], smiles)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
