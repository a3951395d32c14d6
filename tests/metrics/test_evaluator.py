import json

import pytest

from graph_energy.metrics import Evaluator, Protocol
from graph_energy.metrics.protocol import METRIC_GROUPS

GEN = ["CCO", "OCC", "c1ccccc1", "CC.O", "C1CC", "xyz", "", "CCN", "C(C)(C)(C)(C)C", "CCCC.O"]
REF = ["CCO", "CCN", "CCC", "c1ccccc1O", "CC(=O)O", "OCCO", "CNC", "CCCl", "c1ccccc1", "CC(C)O"]
TRAIN = ["OCC", "CC"]


@pytest.mark.parametrize("name", ["digress", "gdss", "moses"])
def test_protocols_load(name):
    p = Protocol.from_name(name)
    assert p.name == name and set(p.metrics) <= set(METRIC_GROUPS)
    assert Protocol.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="available"):
        Protocol.from_name("nope")
    with pytest.raises(ValueError, match="validity_rule"):
        Protocol("x", validity_rule="loose")


def test_evaluator_end_to_end():
    p = Protocol("t", metrics=("basic", "nspdk", "properties", "types"), num_samples=100)
    report = Evaluator(p, {"test": REF}, train=TRAIN, dataset="qm9").evaluate(GEN)
    m = report.metrics
    assert m["validity"] == pytest.approx(0.6) and m["validity_connected"] == pytest.approx(0.4)
    assert m["uniqueness"] == pytest.approx(5 / 6) and m["novelty"] == pytest.approx(3 / 5)
    assert m["vun_largest_fragment"] == pytest.approx(0.3) and m["vun_connected"] == pytest.approx(0.2)
    assert m["nspdk/test"] > 0 and "tv_atom_types/test" in m and "w1_QED/test" in m
    assert report.num_samples == 10 and report.protocol == "t"
    assert any("below the protocol's 100" in w for w in report.warnings)
    json.loads(report.to_json())
    md = report.to_markdown()
    assert "protocol `t`" in md and "GruM" in md and "| **this file** | 60.0 |" in md
    # deterministic
    again = Evaluator(p, {"test": REF}, train=TRAIN, dataset="qm9").evaluate(GEN)
    assert again.metrics == report.metrics


def test_evaluator_all_invalid_does_not_crash():
    p = Protocol("t", metrics=("basic", "fcd", "nspdk", "moses"), num_samples=3)
    r = Evaluator(p, {"test": REF}, train=TRAIN).evaluate(["xx", "C1C", ""])
    assert r.metrics["validity"] == 0.0 and any("no valid" in w for w in r.warnings)
    with pytest.raises(ValueError, match="no samples"):
        Evaluator(p, {"test": REF}).evaluate([])
