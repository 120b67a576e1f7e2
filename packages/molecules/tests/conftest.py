"""Shared by the genlab-molecules tests: a few small molecules embedded once (ETKDGv3 + MMFF)."""

import pytest

from genlab.molecules.conformers import embed

STABLE = ("O", "CCO", "C#N", "C=O", "CN", "FC(F)F", "CC(=O)NC", "OC1CC1")


@pytest.fixture(scope="session")
def stable_smiles():
    """Molecules whose MMFF geometries pass EDM's bond-length stability test."""
    return STABLE


@pytest.fixture(scope="session")
def embedded():
    """SMILES -> explicit-H molecule with one MMFF conformer, for the stable set plus benzene and pyridine."""
    return {s: embed(s, seed=0) for s in (*STABLE, "c1ccccc1", "c1ccncc1")}
