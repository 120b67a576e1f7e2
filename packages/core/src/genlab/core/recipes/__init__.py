"""Recipes that ship with genlab-core."""
