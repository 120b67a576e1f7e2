"""Recipes of genlab.robotics, registered under the ``genlab.recipes`` entry-point group."""
