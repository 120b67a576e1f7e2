"""genlab-video's recipes, registered under the ``genlab.recipes`` entry-point group."""
