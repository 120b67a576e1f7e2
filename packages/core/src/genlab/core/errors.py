"""The errors a user can cause and fix: the ``genlab`` command prints their message, not a traceback.

Kept free of heavy imports, so that the command line can name them before torch is loaded.
"""


class GenlabError(RuntimeError):
    """A problem with the user's input or files, explained by its message."""


class CheckpointError(GenlabError):
    """A checkpoint is missing, incomplete or corrupt."""


class RunDirError(GenlabError):
    """A run directory is missing or does not follow the contract."""
