import pytest
from model_helpers import toy_spec

from graph_energy.data.spec import MolecularSpec


@pytest.fixture(scope="session")
def spec() -> MolecularSpec:
    return toy_spec()
