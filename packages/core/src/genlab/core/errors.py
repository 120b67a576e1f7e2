"""The errors a user can cause and fix: the ``genlab`` command prints their message, not a traceback.

Kept free of heavy imports, so that the command line can name them before torch is loaded.
"""


class GenlabError(RuntimeError):
    """A problem with the user's input or files, explained by its message."""


class CheckpointError(GenlabError):
    """A checkpoint is missing, incomplete or corrupt."""


class RunDirError(GenlabError):
    """A run directory is missing or does not follow the contract."""


class TrainingStopped(Exception):
    """SIGTERM or SIGINT stopped training after a step, with a checkpoint written; not a failure."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
