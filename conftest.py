"""Shared by every test of the workspace (packages/*/tests and tests/): pytest's rootdir is here."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    """Unit tests run many tiny ops, where thread start-up dominates on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
