"""Geodesic interpolation on the bundled QM9 model: alignment quality, path structure (ends, one coordinate
per step, ordinary graphs throughout), the minimax search against brute force, and the saved outputs."""

import itertools
import json

import numpy as np
import pytest

from graph_energy.chem.represent import represent
from graph_energy.interpolation import (
    ABSENT,
    align,
    apply_edit,
    can_apply,
    edits_between,
    exact_edit_distance,
    interpolate,
    minimax_path,
    naive_path,
    state_energies,
)

PAIRS = [("CCO", "c1ccoc1"), ("CCC1OC1(C)C(C)C", "O=C1CCC(=O)C(O)C1"), ("CCCCO", "CC"), ("C#N", "CC(C)C1CC1C#N"),
         ("OCC1CC2CCC12O", "N#CC1NC1CO")]


def graphs(qm9, a, b):
    return represent(a, qm9.spec).graph, represent(b, qm9.spec).graph


@pytest.mark.parametrize("a, b", [("CCO", "OCC"), ("CCO", "CCN"), ("CCCO", "CC(C)O"), ("C1CC1", "CCC"),
                                  ("CC(=O)N", "NC(C)=O"), ("OC1CC1C#N", "N#CC1CC1N"), ("CCCCO", "CC")])
def test_alignment_reaches_the_exact_edit_distance_on_small_pairs(qm9, a, b):
    ga, gb = graphs(qm9, a, b)
    al = align(ga, gb)
    assert al.edit_distance == exact_edit_distance(ga, gb)
    if a != b and represent(a, qm9.spec).smiles == represent(b, qm9.spec).smiles:
        assert al.edit_distance == 0
    # b placed on the slots is b: same multiset of classes, absent slots have no bonds
    assert sorted(al.x_b[al.x_b != ABSENT].tolist()) == sorted(gb.x.tolist())
    assert not al.e_b[al.x_b == ABSENT].any() and not al.e_a[al.x_a == ABSENT].any()


@pytest.mark.parametrize("a, b", PAIRS)
def test_path_goes_from_a_to_b_one_coordinate_per_step(qm9, a, b):
    res = interpolate(qm9.model, qm9.spec, a, b, beam_width=4)
    for path in (res.path, res.naive):
        s0, s1 = path.states[0], path.states[-1]
        assert s0.smiles == represent(a, qm9.spec).smiles and s1.smiles == represent(b, qm9.spec).smiles
        assert np.array_equal(s0.x, res.alignment.x_a) and np.array_equal(s1.x, res.alignment.x_b)
        assert np.array_equal(s1.e, res.alignment.e_b)
        assert len(path) == res.alignment.edit_distance
        iu = np.triu_indices(len(s0.x), 1)
        for prev, cur in zip(path.states, path.states[1:]):
            changed = int((prev.x != cur.x).sum() + (prev.e[iu] != cur.e[iu]).sum())
            assert changed == 1
            present = cur.x != ABSENT
            assert not cur.e[~present].any()          # bonds only between present nodes
            assert np.array_equal(cur.e, cur.e.T)
        # the energies recorded along the path are those of the states
        xs, es = np.stack([s.x for s in path.states]), np.stack([s.e for s in path.states])
        np.testing.assert_allclose(state_energies(qm9.model, qm9.spec, xs, es), path.energies, atol=1e-5)
    assert res.path.max_energy <= res.naive.max_energy + 1e-9


def brute_force_minimax(qm9, al):
    """Lowest path maximum over every order of the edits that keeps each state an ordinary graph."""
    edits = edits_between(al)
    best = np.inf
    cache = {}
    for order in itertools.permutations(range(len(edits))):
        x, e, states, ok = al.x_a, al.e_a, [], True
        for k in order:
            if not can_apply(x, e, edits[k]):
                ok = False
                break
            x, e = apply_edit(x, e, edits[k])
            states.append((x, e))
        if not ok:
            continue
        key = [tuple(x.tolist()) + tuple(e.ravel().tolist()) for x, e in states]
        todo = [(k, s) for k, s in zip(key, states) if k not in cache]
        if todo:
            en = state_energies(qm9.model, qm9.spec, np.stack([s[0] for _, s in todo]), np.stack([s[1] for _, s in todo]))
            cache.update({k: v for (k, _), v in zip(todo, en)})
        best = min(best, max(cache[k] for k in key))
    e0 = state_energies(qm9.model, qm9.spec, al.x_a[None], al.e_a[None])[0]
    return max(best, e0)


@pytest.mark.parametrize("a, b", [("CCO", "c1ccoc1"), ("CCCCO", "CC"), ("CC(=O)N", "CC(=O)O")])
def test_unbounded_beam_finds_the_exact_minimax_path(qm9, a, b):
    al = align(*graphs(qm9, a, b))
    assert len(edits_between(al)) <= 6
    path = minimax_path(qm9.model, qm9.spec, al, beam_width=10 ** 6)
    assert path.max_energy == pytest.approx(brute_force_minimax(qm9, al), abs=1e-6)


def test_naive_path_is_seeded_and_searched_path_is_deterministic(qm9):
    al = align(*graphs(qm9, "CCC1OC1(C)C(C)C", "O=C1CCC(=O)C(O)C1"))
    n1 = naive_path(qm9.model, qm9.spec, al, np.random.default_rng(3))
    n2 = naive_path(qm9.model, qm9.spec, al, np.random.default_rng(3))
    assert n1.smiles == n2.smiles
    p1, p2 = (minimax_path(qm9.model, qm9.spec, al, beam_width=4) for _ in range(2))
    assert p1.smiles == p2.smiles and np.array_equal(p1.energies, p2.energies)


def test_saved_outputs(qm9, tmp_path):
    res = interpolate(qm9.model, qm9.spec, "CCO", "c1ccoc1")
    files = res.save(tmp_path / "out", qm9.spec)
    data = json.loads((tmp_path / "out" / "path.json").read_text())
    assert [s["smiles"] for s in data["path"]] == res.path.smiles and data["steps"] == len(res.path)
    assert len(data["naive"]) == len(data["path"]) and data["path"][1]["edit"].startswith(("node", "bond"))
    smi = (tmp_path / "out" / "path.smi").read_text().splitlines()
    assert smi[0] == "CCO" and smi[-1] == "c1ccoc1" and len(smi) == len(res.path) + 1
    assert "profile" in files and (tmp_path / "out" / "energy.png").read_bytes()[:4] == b"\x89PNG"
    without = res.save(tmp_path / "plain", qm9.spec, images=False)
    assert set(without) == {"json", "smi"}


def test_bad_ends_name_the_problem(qm9):
    with pytest.raises(ValueError, match="b='CCBr': element Br"):
        interpolate(qm9.model, qm9.spec, "CCO", "CCBr")
    with pytest.raises(ValueError, match="beam_width"):
        minimax_path(qm9.model, qm9.spec, align(*graphs(qm9, "CC", "CO")), beam_width=0)
