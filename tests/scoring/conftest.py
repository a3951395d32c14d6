"""One torch thread for every scoring test (the bundled-model fixture ``qm9`` is in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield
