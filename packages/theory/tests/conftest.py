"""Shared by every genlab-theory test."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    """Small experiments on a shared 2-core machine: thread start-up would dominate."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
