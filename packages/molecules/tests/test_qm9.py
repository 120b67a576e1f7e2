"""torch_geometric's QM9 processing, run offline on tiny raw files written in QM9's format."""

import torch
from rdkit import Chem

from genlab.molecules.bonds import ELEMENTS
from genlab.molecules.convert import write_sdf
from genlab.molecules.qm9 import RAW_FILES, load_qm9

TARGETS = (
    "mol_id,A,B,C,mu,alpha,homo,lumo,gap,r2,zpve,u0,u298,h298,g298,cv,u0_atom,u298_atom,h298_atom,g298_atom"
)


def write_raw(root, embedded):
    raw = root / "raw"
    raw.mkdir(parents=True)
    mols = [Chem.Mol(embedded[s]) for s in ("O", "CCO", "C#N", "c1ccncc1")]
    for i, m in enumerate(mols):
        m.SetProp("_Name", f"gdb_{i + 1}")
    write_sdf(raw / RAW_FILES[0], mols)
    rows = [f"gdb_{i + 1}," + ",".join(str(float(i + k)) for k in range(19)) for i in range(len(mols))]
    (raw / RAW_FILES[1]).write_text("\n".join([TARGETS, *rows]) + "\n")
    # 9 header lines, one "index ..." line per excluded molecule, a footer line, a trailing newline
    header = [f"header {k}" for k in range(9)]
    (raw / RAW_FILES[2]).write_text("\n".join([*header, "    3  gdb_3 excluded", "footer"]) + "\n")


def test_qm9_loader_processes_the_raw_format_offline(tmp_path, embedded):
    write_raw(tmp_path, embedded)
    qm9 = load_qm9(tmp_path)
    assert len(qm9) == 3  # molecule 3 is listed as uncharacterized
    water, ethanol, pyridine = qm9[0], qm9[1], qm9[2]
    assert [ELEMENTS[t] for t in water.z.tolist()] == ["O", "H", "H"]
    assert (ethanol.smiles, pyridine.smiles) == ("CCO", "c1ccncc1")
    assert ethanol.pos.shape == (9, 3) and torch.equal(ethanol.charges, torch.zeros(9, dtype=torch.long))
    assert ethanol.edge_attr.shape == (16, 4) and ethanol.y.shape == (1, 19)
    assert pyridine.edge_attr[:, 3].sum() == 0  # the SDF stores Kekule bonds
    assert (tmp_path / "processed").is_dir()
