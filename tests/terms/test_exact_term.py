"""PropertyTerm: values on encoded molecules, invalid graphs, the per-graph cache, range warnings."""

import logging
import math

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Crippen
from term_toys import QM9_LIKE, encode

from graph_energy.data.dense import DenseGraph
from graph_energy.samplers import TargetEnergy
from graph_energy.terms import (
    Hard,
    MoleculeCache,
    PropertyTerm,
    Window,
    build_terms,
    graph_keys,
    property_term,
)

SMILES = ["CCO", "CC(C)CCO", "c1ccoc1", "CCCCCCCCC"]


def invalid_graph() -> DenseGraph:
    """A carbon with five single bonds (pentavalent: does not sanitise)."""
    x = torch.zeros(1, 6, dtype=torch.long)
    e = torch.zeros(1, 6, 6, dtype=torch.long)
    e[0, 0, 1:] = 1
    e[0, 1:, 0] = 1
    return DenseGraph.from_labels(x, e, torch.ones(1, 6, dtype=torch.bool), QM9_LIKE.num_atom_types,
                                  QM9_LIKE.num_bond_types)


def test_window_term_values_match_rdkit():
    term = property_term("logp", lo=0.5, hi=1.5, scale=0.5, weight=3.0).bind(QM9_LIKE)
    g = encode(SMILES)
    logp = torch.tensor([Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in SMILES], dtype=torch.float64)
    dist = (0.5 - logp).clamp(min=0) + (logp - 1.5).clamp(min=0)
    want = 3.0 * (dist / 0.5) ** 2
    assert torch.allclose(term(g).double(), want.to(torch.float32).double())
    assert term.satisfied(g).tolist() == [bool(d == 0) for d in dist]


def test_invalid_graphs_get_the_invalid_penalty():
    g = invalid_graph()
    assert PropertyTerm("qed", Window(0.5, 1.0), weight=2.0, spec=QM9_LIKE)(g).tolist() == [200.0]
    assert PropertyTerm("qed", Window(0.5, 1.0), invalid_penalty=0.25, spec=QM9_LIKE)(g).tolist() == [0.25]
    assert PropertyTerm("qed", Window(0.5, 1.0), invalid_penalty=math.inf, spec=QM9_LIKE)(g).tolist() == [math.inf]
    assert PropertyTerm("qed", Window(0.5, 1.0), spec=QM9_LIKE).satisfied(g).tolist() == [False]


def test_forbidden_substructure_as_hard_constraint():
    term = PropertyTerm("smarts:[#7]~[#7]", Hard(hi=0), spec=QM9_LIKE)
    assert term(encode(["CNNC", "CNC", "N#N", "CC"])).tolist() == [math.inf, 0.0, math.inf, 0.0]


def test_keys_distinguish_graphs_and_ignore_padding():
    a, b = encode(["CCO", "OCC"]), encode(["CCO", "CCN"])
    ka, kb = graph_keys(a.to_labels()), graph_keys(b.to_labels())
    assert ka[0] == kb[0] and ka[1] != kb[1]
    padded = DenseGraph.cat([encode(["CCO"]), encode(["CCCCCC"])])
    assert graph_keys(padded.to_labels())[0] == ka[0]


def test_cache_decodes_each_graph_once_and_shares_across_terms():
    terms = build_terms({"logp": {"property": "logp", "lo": 0, "hi": 1},
                         "qed": {"property": "qed", "lo": 0.4}}, QM9_LIKE)
    cache = terms[0].cache
    assert terms[1].cache is cache
    g = encode(SMILES)
    target = TargetEnergy(lambda graph: graph.x.sum((1, 2)), terms)
    first = target.energy(g)
    assert (cache.stats.decodes, cache.stats.computes) == (4, 8)
    for _ in range(3):  # a chain that stays put: same graphs again
        assert torch.equal(target.energy(g), first)
    assert (cache.stats.decodes, cache.stats.computes) == (4, 8)
    assert cache.stats.hits == 3 * 8 + 4  # the second term hit the first's decodings too
    assert len(cache) == 4


def test_cache_is_bounded():
    cache = MoleculeCache(QM9_LIKE, max_size=2)
    cache.lookup(encode(SMILES[:3]))
    assert len(cache) == 2


def test_unbound_term_says_how_to_bind():
    with pytest.raises(ValueError, match="no vocabulary to decode graphs with; pass spec="):
        property_term("logp", lo=1)(encode(["CC"]))


def test_hard_constraint_needs_positive_weight():
    with pytest.raises(ValueError, match="needs a positive weight, got 0"):
        property_term("rings", hi=0, hard=True, weight=0.0)


def test_temperature_sets_the_weight():
    assert property_term("logp", target=1.0, temperature=4.0).weight == 0.25
    with pytest.raises(ValueError, match="temperature of property term 'logp' must be a positive"):
        property_term("logp", target=1.0, temperature=0.0)


def test_window_outside_the_data_range_warns(caplog):
    term = property_term("logp", lo=8, hi=9)
    with caplog.at_level(logging.WARNING, logger="graph_energy.terms.exact"):
        assert not term.check_range(-2.0, 4.0, "the QM9 training split")
    assert "term 'logp_window' asks for logp [8, 9], outside its range [-2, 4] in the QM9 training split" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="graph_energy.terms.exact"):
        assert property_term("logp", lo=3).check_range(-2.0, 4.0)
    assert caplog.text == ""
