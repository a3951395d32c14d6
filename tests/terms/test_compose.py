"""Composition: 0.5 + 0.5 of a model equals the model, weighted calibrations, expert terms, the errors."""

import dataclasses

import numpy as np
import pytest
import torch
import yaml

import graph_energy as ge
from graph_energy.config import set_path
from graph_energy.models.energy_eval import energy_and_grad
from graph_energy.samplers import Calibration, TargetEnergy
from graph_energy.terms import ExpertTerm, build_terms
from graph_energy.terms.composition import ComposedEnergy, compose, composed_calibration

CONF = ge.api._SAMPLER_CONFS / "default.yaml"


def short_sampler(transport: int = 4, mixing: int = 4) -> dict:
    cfg = yaml.safe_load(CONF.read_text())
    set_path(cfg, "phases.transport.max_steps", transport)
    set_path(cfg, "phases.mixing.max_steps", mixing)
    return cfg


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, make_tiny_checkpoint):
    tmp = tmp_path_factory.mktemp("compose")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEM_DATA_DIR", str(tmp / "data"))
    mp.setenv("GEM_CACHE_DIR", str(tmp / "cache"))
    yield make_tiny_checkpoint(tmp, ema=True)[0]
    mp.undo()


@pytest.fixture(scope="module")
def model(tiny):
    return ge.load(tiny)


def test_half_plus_half_energy_and_gradient_equal_the_model(model):
    graph = model.encode(["CCO", "c1ccncc1", "CC(=O)O"])
    both = ComposedEnergy([model.model, model.model], [0.5, 0.5])
    a, b = energy_and_grad(model.model, graph), energy_and_grad(both, graph)
    assert torch.equal(a.energy, b.energy) and torch.equal(a.grad_x, b.grad_x) and torch.equal(a.grad_e, b.grad_e)


def test_half_plus_half_samples_equal_the_model(model):
    plain = model.sample(6, seed=3, sampler=short_sampler(), batch_size=3)
    both = compose(model, model, weights=[0.5, 0.5]).sample(6, seed=3, sampler=short_sampler(), batch_size=3)
    assert both.smiles == plain.smiles
    assert np.array_equal(both.energies, plain.energies)
    assert both.summary["composition"]["models"][0]["weight"] == 0.5


def test_sum_and_negation_energies(model):
    smi = ["CCO", "CCN", "c1ccoc1"]
    e = model.score(smi)
    assert np.allclose(compose(model, model).score(smi), 2 * e, atol=1e-6)
    assert np.allclose(compose(model, (model, -1.0)).score(smi), 0 * e, atol=1e-6)
    assert np.allclose(compose(model, model, temperatures=[1.0, 4.0]).score(smi), 1.25 * e, atol=1e-6)


def test_model_as_a_term_equals_composition(model):
    graph = model.encode(["CCO", "CC#N"])
    expert = ExpertTerm(model=model.model, spec=model.spec, weight=0.5).check(model.spec)
    t = TargetEnergy(ComposedEnergy([model.model], [0.5]), [expert]).evaluate(graph)
    ref = energy_and_grad(model.model, graph)
    assert torch.allclose(t.energy, ref.energy) and torch.allclose(t.grad_x, ref.grad_x)


def test_composed_calibration_is_the_weighted_sum():
    a = Calibration(0.5, {5: 1.0, 6: 2.0, 7: 3.0}, {5: 10, 6: 20, 7: 30})
    b = Calibration(0.5, {6: -1.0, 7: 0.5})
    c = composed_calibration([a, b], [1.0, 2.0])
    assert c.thresholds == {6: 0.0, 7: 4.0}
    assert composed_calibration([a, a], [0.5, 0.5]).thresholds == a.thresholds
    assert composed_calibration([a, None], [1.0, 1.0]) is None


def test_compose_with_terms_records_them(model):
    s = compose(model, terms=[{"name": "rings", "property": "rings", "hi": 0, "weight": 2.0}]).sample(
        4, seed=0, sampler=short_sampler(), batch_size=4)
    rec = s.summary["composition"]["terms"]
    assert rec[0]["name"] == "rings" and rec[0]["weight"] == 2.0 and rec[0]["property"] == "rings"


def other_vocabulary(model):
    spec = dataclasses.replace(model.spec, atom_types=tuple(reversed(model.spec.atom_types)))
    return spec


def test_expert_on_another_vocabulary_is_refused(model):
    with pytest.raises(ValueError, match=r"expert term 'e' was trained on another vocabulary \(atom_types"):
        build_terms([ExpertTerm(model=model.model, spec=other_vocabulary(model), name="e")], model.spec)


def test_compose_errors(model, tiny):
    other = ge.load(tiny)
    other.spec = other_vocabulary(model)
    with pytest.raises(ValueError, match="model #1 of the composition .* was trained on another vocabulary"):
        compose(model, other)
    with pytest.raises(ValueError, match="weights has 1 entries for 2 models; give one per model"):
        compose(model, model, weights=[1.0])
    with pytest.raises(ValueError, match="give weights or temperatures, not both"):
        compose(model, weights=[1.0], temperatures=[1.0])
    with pytest.raises(ValueError, match="compose needs at least one energy model"):
        compose({"property": "logp", "lo": 1})
    with pytest.raises(TypeError, match="compose takes GEMModel objects"):
        compose(3)
    with pytest.raises(ValueError, match="temperature of model #0 must be a positive finite number"):
        compose(model, temperatures=[0.0])


def test_model_sample_takes_terms_by_preset_and_dict(model):
    s = model.sample(4, seed=0, sampler=short_sampler(), batch_size=4,
                     terms=["no_nn", {"name": "few_rings", "property": "rings", "hi": 1, "weight": 3.0}])
    assert [t["name"] for t in s.summary["terms"]] == ["no_nn", "few_rings"]
    assert s.summary["terms"][1]["weight"] == 3.0 and s.summary["terms"][1]["penalty"] == "Bound"
    plain = model.sample(4, seed=0, sampler=short_sampler(), batch_size=4)
    assert "terms" not in plain.summary
