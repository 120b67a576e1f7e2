"""Recipes that ship with genlab-molecules (registered under the ``genlab.recipes`` entry points)."""
