import math

import pytest

from graph_energy.chem.properties import compute_properties, logp, mol_weight, qed, sa_score
from graph_energy.metrics._util import parse_smiles
from graph_energy.metrics.distributions import (
    atom_type,
    molecule_distribution,
    property_distances,
    total_variation,
    type_distances,
)


def test_properties_known_values():
    benzene = parse_smiles("c1ccccc1")
    assert mol_weight(benzene) == pytest.approx(78.114, abs=1e-2)
    assert logp(benzene) == pytest.approx(1.6866, abs=1e-3)
    assert 0 < qed(benzene) < 1
    assert 1 <= sa_score(benzene) < 2  # trivially easy
    hard = parse_smiles("CC12CCC3C(CCC4CC(O)CCC34C)C1CCC2O")  # steroid: harder
    assert sa_score(hard) > sa_score(benzene)
    assert set(compute_properties(benzene)) == {"logP", "QED", "SA", "MW"}


def test_distribution_distances():
    a = ["CCO", "c1ccccc1", "CC[NH3+]"]
    da, db = molecule_distribution(a), molecule_distribution(["CCCC", "CCCl"])
    assert property_distances(da, da) == {k: 0.0 for k in ("logP", "QED", "SA", "MW")}
    assert all(v > 0 for v in property_distances(da, db).values())
    assert type_distances(da, da) == {"atom_types": 0.0, "bond_types": 0.0}
    assert atom_type(parse_smiles("[NH4+]").GetAtomWithIdx(0)) == "N+"
    assert total_variation({"a": 1}, {"b": 3}) == 1.0
    assert math.isnan(total_variation({}, {"b": 3}))
    kek = molecule_distribution(["c1ccccc1"], kekulize=True)
    assert dict(kek.bond_counts) == {"single": 3, "double": 3}
    assert dict(molecule_distribution(["c1ccccc1"]).bond_counts) == {"aromatic": 6}
