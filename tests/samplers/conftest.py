"""Sampler tests run many tiny tensor ops per step; one torch thread avoids contention on small machines."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every sampler test runs under the suite's ``one_thread`` fixture (tests/conftest.py)."""
    yield
