"""Term tests reuse the enumerable toys of the sampler tests and run on one torch thread."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "samplers"))


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield
