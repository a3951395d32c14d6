import pytest

from graph_energy.metrics.validity import (
    canonical_set,
    novelty,
    uniqueness,
    uniqueness_at_k,
    valid_canonical,
    valid_canonical_all,
    validity,
    vun,
)

# 10 samples: 6 sanitise (2 of them disconnected), 4 do not (unclosed ring, garbage, empty, C valence 6)
GEN = ["CCO", "OCC", "c1ccccc1", "CC.O", "C1CC", "xyz", "", "CCN", "C(C)(C)(C)(C)C", "CCCC.O"]
TRAIN = ["OCC", "CC"]


def test_validity_rules_exact():
    canon = valid_canonical_all(GEN)
    assert validity(canon["strict"]) == pytest.approx(6 / 10)
    assert validity(canon["connected"]) == pytest.approx(4 / 10)
    assert validity(canon["largest_fragment"]) == pytest.approx(6 / 10)
    assert canon["largest_fragment"][3] == "CC" and canon["largest_fragment"][9] == "CCCC"
    assert canon["connected"][3] is None and canon["strict"][3] == "CC.O"
    for rule in canon:
        assert valid_canonical(GEN, rule) == canon[rule]


def test_uniqueness_novelty_vun_exact():
    train = canonical_set(TRAIN)
    assert train == {"CCO", "CC"}
    lf = valid_canonical(GEN, "largest_fragment")  # CCO CCO c1ccccc1 CC CCN CCCC
    assert uniqueness(lf) == pytest.approx(5 / 6)
    assert novelty(lf, train) == pytest.approx(3 / 5)  # c1ccccc1, CCN, CCCC
    assert vun(lf, train) == pytest.approx(3 / 10)
    conn = valid_canonical(GEN, "connected")
    assert uniqueness(conn) == pytest.approx(3 / 4)
    assert vun(conn, train) == pytest.approx(2 / 10)
    strict = valid_canonical(GEN, "strict")
    assert vun(strict, train) == pytest.approx(4 / 10)  # c1ccccc1, CC.O, CCN, CCCC.O


def test_edge_cases():
    assert uniqueness([None, None]) != uniqueness([None, None])  # nan
    assert validity([None]) == 0.0
    assert uniqueness_at_k(["A", "A", "B", None], 2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        validity([])
    with pytest.raises(ValueError, match="validity rule"):
        valid_canonical(["C"], "bogus")
    # non-strings and odd input never crash
    assert valid_canonical([None, 3, "C[", "[Xx]"], "strict") == [None, None, None, None]


def test_kekule_and_aromatic_forms_are_the_same_molecule():
    a, b = valid_canonical(["C1=CC=CC=C1", "c1ccccc1"], "strict")
    assert a == b


def test_parallel_matches_serial(monkeypatch):
    from graph_energy.metrics import _util

    serial = valid_canonical_all(GEN * 3, n_jobs=1)
    monkeypatch.setattr(_util, "PARALLEL_MIN_ITEMS", 0)
    parallel = _util.parallel_map(lambda c: c, list(range(7)), n_jobs=1, chunk_size=2)  # order kept
    assert parallel == list(range(7))
    assert valid_canonical_all(GEN * 3, n_jobs=2) == serial
