"""The real QM9 (Ramakrishnan et al. 2014), EDM's benchmark (Hoogeboom et al. 2022), through torch_geometric.

For users with a network: ``load_qm9(root)`` wraps ``torch_geometric.datasets.QM9``, which on
first use downloads ``qm9.zip`` (DeepChem's ``gdb9.sdf`` and ``gdb9.sdf.csv``) and the list of
3,054 molecules that failed a consistency check (``uncharacterized.txt``, figshare) into
``root/raw``, then processes them with RDKit into ``root/processed`` (130,831 molecules). If the
raw files are already in ``root/raw`` nothing is downloaded. Each molecule is mapped to the
package's ``Data`` layout (``genlab.molecules.convert``) with the 19 regression targets in ``y``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch_geometric.data import Data

from genlab.molecules.convert import ATOMIC_NUMBERS
from genlab.molecules.smiles_sets import canonical_smiles

RAW_FILES = ("gdb9.sdf", "gdb9.sdf.csv", "uncharacterized.txt")
_TYPE_OF_NUMBER = torch.full((max(ATOMIC_NUMBERS) + 1,), -1, dtype=torch.long)
_TYPE_OF_NUMBER[list(ATOMIC_NUMBERS)] = torch.arange(len(ATOMIC_NUMBERS))


def qm9_to_genlab(data: Data) -> Data:
    """torch_geometric's QM9 ``Data`` (z = atomic number) in the package layout (z = element index).

    QM9's PyG processing drops formal charges; ``charges`` are zeros.
    """
    z = _TYPE_OF_NUMBER[data.z]
    if (z < 0).any():
        raise ValueError(f"atomic numbers outside H, C, N, O, F: {sorted(set(data.z[z < 0].tolist()))}")
    return Data(
        pos=data.pos,
        z=z,
        charges=torch.zeros_like(z),
        edge_index=data.edge_index,
        edge_attr=data.edge_attr,
        smiles=canonical_smiles(data.smiles) or "",
        y=data.y,
        idx=data.idx,
    )


def load_qm9(root: str | Path, force_reload: bool = False):
    """torch_geometric's QM9 under ``root``, yielding ``Data`` in the package layout (downloads if ``root/raw`` is empty)."""
    from torch_geometric.datasets import QM9

    return QM9(str(root), transform=qm9_to_genlab, force_reload=force_reload)
