"""The bundled QM9 model, shared by the interpolation tests (skipped where the package ships without it)."""

import pytest

from graph_energy import api

BUNDLED = api._ASSETS / api.BUNDLED_MODELS["qm9"]


@pytest.fixture(scope="session")
def qm9():
    if not BUNDLED.is_file():
        pytest.skip(f"no bundled model file graph_energy/assets/{BUNDLED.name}")
    import graph_energy as ge

    return ge.load("qm9")


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield
