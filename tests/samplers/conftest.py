"""Sampler tests run many tiny tensor ops per step; one torch thread avoids contention on small machines."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
