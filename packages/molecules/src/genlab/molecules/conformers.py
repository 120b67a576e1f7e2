"""Explicit-hydrogen 3D conformers (ETKDGv3 + MMFF94), built in parallel and cached.

EDM (Hoogeboom et al. 2022) trains on 3D molecules with hydrogens. Without QM9's DFT geometries
we embed each SMILES with RDKit's ETKDGv3 (Wang et al. 2020) and relax it with MMFF94: a few ms
per small molecule. A set is built once and cached as a gzipped SDF under ``cache_dir`` (default
``~/.cache/genlab/molecules``, or ``$GENLAB_DATA/molecules``), keyed by the SMILES list and seed.
Molecules that fail to parse, embed or get MMFF parameters are counted and listed, never fatal.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from rdkit import Chem
from rdkit.Chem import AllChem
from rdkit.rdBase import BlockLogs
from tqdm import tqdm

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$GENLAB_DATA/molecules`` if GENLAB_DATA is set, else ``~/.cache/genlab/molecules``."""
    root = os.environ.get("GENLAB_DATA")
    return Path(root) / "molecules" if root else Path.home() / ".cache" / "genlab" / "molecules"


def embed(smiles: str, seed: int = 0, mmff_iters: int = 2000) -> Chem.Mol:
    """One ETKDGv3 conformer with explicit hydrogens, MMFF94-relaxed; ValueError saying why it failed."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        raise ValueError(f"cannot parse SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise ValueError(f"ETKDG embedding failed for {smiles!r}")
    if not AllChem.MMFFHasAllMoleculeParams(mol):
        raise ValueError(f"no MMFF94 parameters for {smiles!r}")
    AllChem.MMFFOptimizeMolecule(mol, maxIters=mmff_iters)
    mol.SetProp("_Name", smiles)
    return mol


def _embed_block(job: tuple[str, int]) -> tuple[str | None, str | None]:
    """(mol block, None) or (None, reason) for one SMILES; runs in the worker processes."""
    smiles, seed = job
    with BlockLogs():
        try:
            return Chem.MolToMolBlock(embed(smiles, seed)), None
        except ValueError as err:
            return None, str(err)


@dataclass
class Conformers:
    """Embedded molecules (explicit H, one conformer each) and the SMILES that failed, with reasons."""

    mols: list[Chem.Mol]
    failed: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.mols)


def cache_path(smiles: list[str], seed: int, cache_dir: str | Path | None = None) -> Path:
    """Where the conformers of this SMILES list and seed are cached."""
    key = hashlib.sha256(f"v{CACHE_VERSION} seed={seed}\n{chr(10).join(smiles)}".encode()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()) / f"conformers-{key}.sdf.gz"


def read_sdf_gz(path: str | Path) -> list[Chem.Mol]:
    """Molecules of a gzipped SDF, hydrogens kept."""
    with gzip.open(path, "rb") as f:
        return [m for m in Chem.ForwardSDMolSupplier(f, removeHs=False) if m is not None]


def build_conformers(
    smiles: list[str],
    cache_dir: str | Path | None = None,
    n_workers: int = 1,
    seed: int = 0,
    progress: bool = True,
) -> Conformers:
    """Embed every SMILES (ETKDGv3 + MMFF) with ``n_workers`` processes, or load them from the cache.

    Each molecule uses the same ``seed``, so the result does not depend on ``n_workers``.
    """
    smiles = list(smiles)
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    path = cache_path(smiles, seed, cache_dir)
    report = path.with_suffix("").with_suffix(".json")
    if path.exists() and report.exists():
        return Conformers(read_sdf_gz(path), json.loads(report.read_text())["failed"], path)
    jobs = [(s, seed) for s in smiles]
    bar = dict(total=len(jobs), desc="conformers", unit="mol", disable=not progress)
    if n_workers == 1:
        results = [_embed_block(job) for job in tqdm(jobs, **bar)]
    else:
        with get_context("spawn").Pool(n_workers) as pool:
            results = list(tqdm(pool.imap(_embed_block, jobs, chunksize=32), **bar))
    failed = {s: reason for s, (_, reason) in zip(smiles, results) if reason is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt") as f:
        f.writelines(f"{block}$$$$\n" for block, _ in results if block is not None)
    tmp.replace(path)
    report.write_text(json.dumps({"n": len(smiles), "n_failed": len(failed), "failed": failed}, indent=1))
    if failed and progress:
        print(f"conformers: {len(failed)} of {len(smiles)} molecules failed (listed in {report})")
    return Conformers(read_sdf_gz(path), failed, path)
