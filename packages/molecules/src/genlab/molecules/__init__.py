"""Molecule generation built on genlab.core and RDKit."""
