"""A torch ``Dataset`` of 3D molecules as torch_geometric ``Data``, batched by PyG's ``DataLoader``.

``qm9like_dataset`` is the offline stand-in for EDM's QM9 training data (Hoogeboom et al. 2022):
the shipped QM9-like SMILES embedded once by ETKDGv3 + MMFF (``conformers.build_conformers``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rdkit import Chem
from torch.utils.data import Dataset
from torch_geometric.data import Data

from genlab.molecules.conformers import build_conformers
from genlab.molecules.convert import mol_to_data
from genlab.molecules.smiles_sets import load_qm9like


class MoleculeDataset(Dataset):
    """``Data`` objects (``convert`` layout) from molecules with conformers or ready ``Data``."""

    def __init__(self, items: Sequence[Data | Chem.Mol], transform: Callable[[Data], Data] | None = None):
        self.data = [item if isinstance(item, Data) else mol_to_data(item) for item in items]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Data:
        data = self.data[i]
        return self.transform(data) if self.transform is not None else data


def qm9like_dataset(
    limit: int | None = None,
    cache_dir: str | Path | None = None,
    n_workers: int = 1,
    seed: int = 0,
    transform: Callable[[Data], Data] | None = None,
    progress: bool = True,
) -> MoleculeDataset:
    """The shipped QM9-like molecules (first ``limit``) with cached ETKDG + MMFF conformers; failures dropped."""
    confs = build_conformers(
        load_qm9like(limit), cache_dir=cache_dir, n_workers=n_workers, seed=seed, progress=progress
    )
    return MoleculeDataset(confs.mols, transform)
