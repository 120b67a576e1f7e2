"""The root conftest.py reaches every test: its autouse ``single_thread`` runs here and in packages/."""

import torch


def test_single_thread_is_autouse(request):
    assert "single_thread" in request.fixturenames
    assert torch.get_num_threads() == 1
