"""Predictor checkpoints: loaded in physical units, used as a term by name, checked against the vocabulary."""

import dataclasses
import logging

import pytest
import torch
from term_toys import QM9_LIKE, encode

from graph_energy.models import build_model
from graph_energy.samplers import TargetEnergy
from graph_energy.terms import PredictorTerm, Target, build_terms, load_predictor
from graph_energy.terms.ranges import check_term_ranges, property_range
from graph_energy.training.checkpoint import CheckpointError, save_checkpoint

NET = {"_target_": "graph_energy.models.GraphTransformerEnergy", "n_layers": 1, "hidden_x": 8, "hidden_e": 4,
       "hidden_y": 4, "n_heads": 2, "ff_x": 8, "ff_e": 8, "ff_y": 8, "rw_steps": 2,
       "head": {"_target_": "graph_energy.models.heads.RegressionHead", "_partial_": True, "num_targets": 1}}
NORM = {"mu": {"mean": 2.5, "std": 1.5, "min": 0.0, "max": 8.0}}


def save_predictor(path, spec=QM9_LIKE, objective=None):
    torch.manual_seed(0)
    net = build_model(NET, spec)
    objective = {"property": "mu", "normalization": NORM} if objective is None else objective
    save_checkpoint(path, {"step": 1, "model": net.state_dict(), "spec": spec.to_dict(),
                           "config": {"model": NET, "objective": objective}})
    return net, path


def test_load_predictor_returns_physical_units(tmp_path):
    net, path = save_predictor(tmp_path / "mu.pt")
    pred = load_predictor(path)
    g = encode(["CCO", "c1ccncc1"])
    with torch.no_grad():
        assert torch.allclose(pred(g)[:, 0], net(g)[:, 0] * 1.5 + 2.5)
    assert pred.names == ["mu"] and pred.ranges == [(0.0, 8.0)] and pred.spec == QM9_LIKE


def test_predictor_term_from_config_is_differentiable(tmp_path):
    _, path = save_predictor(tmp_path / "mu.pt")
    (term,) = build_terms({"mu": {"predictor": str(path), "target": 3.0, "scale": 0.5, "weight": 2.0}}, QM9_LIKE)
    assert isinstance(term, PredictorTerm) and term.differentiable and term.label_range == (0.0, 8.0)
    g = encode(["CCO", "CCN"])
    ev = TargetEnergy(lambda graph: graph.x.sum((1, 2)) * 0, [term]).evaluate(g)
    with torch.no_grad():
        want = 2.0 * ((term.predict(g) - 3.0) / 0.5) ** 2
    assert torch.allclose(ev.energy, want) and ev.grad_x.abs().sum() > 0
    assert term.describe()["ckpt"] == str(path) and term.describe()["kind"] == "predictor"


def test_predictor_on_another_vocabulary_is_refused(tmp_path):
    other = dataclasses.replace(QM9_LIKE, atom_types=("C", "N", "O", "Cl"))
    _, path = save_predictor(tmp_path / "other.pt", spec=other)
    with pytest.raises(ValueError, match=r"predictor term 'mu' was trained on another vocabulary \(atom_types"):
        build_terms({"mu": {"predictor": str(path), "target": 3.0}}, QM9_LIKE)


@pytest.mark.parametrize("objective,msg", [
    ({}, "is not a property-predictor checkpoint"),
    ({"property": "mu", "normalization": {}}, "objective.normalization lacks mean/std for ['mu']"),
])
def test_non_predictor_checkpoints_are_refused(tmp_path, objective, msg):
    _, path = save_predictor(tmp_path / "x.pt", objective=objective)
    with pytest.raises(CheckpointError, match=msg.replace("[", r"\[")):
        load_predictor(path)


def test_missing_predictor_file_and_wrong_property(tmp_path):
    with pytest.raises(ValueError, match="predictor checkpoint .* does not exist; train one with"):
        load_predictor(tmp_path / "nope.pt")
    _, path = save_predictor(tmp_path / "mu.pt")
    with pytest.raises(ValueError, match=r"unknown property 'homo' for this predictor; it predicts \['mu'\]"):
        PredictorTerm(ckpt=str(path), penalty=Target(0.0), property="homo")


def test_range_checks_of_exact_and_learned_terms(tmp_path, caplog):
    _, path = save_predictor(tmp_path / "mu.pt")
    terms = build_terms({"logp": {"property": "logp", "lo": 8, "hi": 9},
                         "rings": {"property": "rings", "lo": 1},
                         "mu": {"predictor": str(path), "target": 12.0}}, QM9_LIKE)
    data = ["CCO", "c1ccccc1", "CCCCCC", "OCC1CC1"]
    lo, hi = property_range(terms[0].property, data)
    assert lo < 0.5 and 1.5 < hi < 3
    with caplog.at_level(logging.WARNING):
        ok = check_term_ranges(terms, data, "the toy set")
    assert ok == {"logp": False, "rings": True, "mu": False}
    assert "term 'logp' asks for logp [8, 9]" in caplog.text and "term 'mu' asks for mu = 12" in caplog.text
