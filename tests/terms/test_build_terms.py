"""Terms from configs: every preset builds, short forms pick their class, and the one-line errors."""

import math

import pytest
from term_toys import QM9_LIKE, encode

from graph_energy.terms import (
    PRESET_DIR,
    Bound,
    Hard,
    PropertyTerm,
    Target,
    Window,
    build_terms,
    describe_terms,
    preset,
)
from graph_energy.terms.build import PRESET_DIR as _P

NEED_CHECKPOINT = {"mu_target": "predictor", "homo_target": "predictor", "expert": "ckpt"}
PRESETS = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def test_presets_exist():
    assert {"logp_window", "qed_min", "two_rings", "no_nn", "expert", "mu_target"} <= set(PRESETS)
    assert PRESET_DIR == _P


@pytest.mark.parametrize("name", [p for p in PRESETS if p not in NEED_CHECKPOINT])
def test_every_property_preset_builds_and_evaluates(name):
    (term,) = build_terms([name], QM9_LIKE)
    assert isinstance(term, PropertyTerm) and term.name == name
    values = term(encode(["CCO", "c1ccncc1", "CC1CC1C=O"]))
    assert values.shape == (3,) and not values.isnan().any()


@pytest.mark.parametrize("name,key", sorted(NEED_CHECKPOINT.items()))
def test_presets_that_need_a_checkpoint_say_so(name, key):
    with pytest.raises(ValueError, match=f"term '{name}': set {key}="):
        build_terms([name], QM9_LIKE)


def test_short_forms_and_overrides_like_the_command_line():
    cfg = {"logp_window": {**preset("logp_window"), "lo": 1.5},
           "no_nn": preset("no_nn"),
           "qed": {"property": "qed", "lo": 0.5},
           "mw": {"property": "mw", "target": 120, "scale": 10, "temperature": 0.5},
           "off": None}
    terms = build_terms(cfg, QM9_LIKE)
    assert [t.name for t in terms] == ["logp_window", "no_nn", "qed", "mw"]
    assert isinstance(terms[0].penalty, Window) and terms[0].penalty.lo == 1.5 and terms[0].weight == 20.0
    assert isinstance(terms[1].penalty, Hard) and isinstance(terms[2].penalty, Bound)
    assert isinstance(terms[3].penalty, Target) and terms[3].weight == 2.0
    assert len({id(t.cache) for t in terms}) == 1
    meta = describe_terms(terms)
    assert meta[1] == {"name": "no_nn", "kind": "property", "weight": 1.0, "property": "smarts:[#7]~[#7]",
                       "penalty": "Hard", "lo": None, "hi": 0.0, "invalid_penalty": 100.0, "differentiable": False}


def test_target_nodes_build_as_written():
    node = {"_target_": "graph_energy.terms.PropertyTerm", "property": "rings",
            "penalty": {"_target_": "graph_energy.terms.Hard", "hi": 1}}
    (term,) = build_terms({"few_rings": node}, QM9_LIKE)
    assert term.name == "few_rings" and term(encode(["C1CC12CC2", "CC"])).tolist() == [math.inf, 0.0]


def test_loaded_configs_may_not_name_outside_classes():
    from graph_energy.config import UnsafeTargetError

    with pytest.raises(UnsafeTargetError):
        build_terms({"x": {"_target_": "os.system", "command": "true"}}, QM9_LIKE)


@pytest.mark.parametrize("cfg,err,msg", [
    ({"t": {"lo": 1}}, ValueError, "term 't': say what it is with exactly one of property=<name>"),
    ({"t": {"property": "boiling", "lo": 1}}, ValueError, "unknown property 'boiling'"),
    ({"t": {"property": "logp", "lo": 1, "colour": 2}}, TypeError, "term 't': .*colour"),
    ({"t": {"property": "logp"}}, ValueError, "a term needs target=..., or lo=..."),
    ({"t": 3}, TypeError, "term 't': expected a config mapping"),
    ([{"name": "a", "property": "logp", "lo": 1}, {"name": "a", "property": "qed", "lo": 1}], ValueError,
     "term names must be unique and not 'model'"),
    (["no_such_preset"], ValueError, "unknown term preset 'no_such_preset'; presets: "),
    ("logp", TypeError, "terms must be a mapping of name -> term config or a list"),
])
def test_config_errors(cfg, err, msg):
    with pytest.raises(err, match=msg.replace("[", r"\[").replace("(", r"\(")):
        build_terms(cfg, QM9_LIKE)


def test_valid_preset_is_zero_on_molecules_and_the_penalty_elsewhere():
    import torch

    from graph_energy.data.dense import DenseGraph

    (term,) = build_terms(["valid"], QM9_LIKE)
    assert term(encode(["CCO", "c1ccncc1", "O"])).tolist() == [0.0, 0.0, 0.0]
    # F-F-F: the middle fluorine has two bonds, no molecule RDKit sanitises
    x = torch.tensor([[3, 3, 3]])
    e = torch.zeros(1, 3, 3, dtype=torch.long)
    e[0, 0, 1] = e[0, 1, 0] = e[0, 1, 2] = e[0, 2, 1] = 1
    bad = DenseGraph.from_labels(x, e, torch.ones(1, 3, dtype=torch.bool), 4, 4)
    assert term(bad).tolist() == [term.invalid_penalty] and term.invalid_penalty == 100.0
