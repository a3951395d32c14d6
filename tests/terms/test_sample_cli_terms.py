"""gem-sample with the terms config group on a tiny random checkpoint: presets, overrides, metadata, errors."""

import json

import pytest

FAST = ["sampler.phases.0.max_steps=3", "sampler.phases.1.max_steps=3", "progress=false", "num_threads=1",
        "metrics=none", "grid=0", "num_samples=4", "batch_size=4"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, make_tiny_checkpoint):
    tmp = tmp_path_factory.mktemp("gem_terms")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEM_DATA_DIR", str(tmp / "data"))
    mp.setenv("GEM_CACHE_DIR", str(tmp / "cache"))
    yield make_tiny_checkpoint(tmp)[0]
    mp.undo()


def test_terms_group_composes_presets_overrides_and_inline_terms():
    from graph_energy.cli.sample import compose_config

    cfg = compose_config(["terms=[logp_window,no_nn]", "terms.logp_window.lo=1.5",
                          "+terms.mine={property:qed,lo:0.6}", "+terms.expert.ckpt=some.pt"])
    assert cfg["terms"]["logp_window"] == {"property": "logp", "lo": 1.5, "hi": 3.0, "scale": 0.1, "weight": 20.0, "step": 1.0,
                                           "invalid_penalty": float("inf")}
    assert cfg["terms"]["no_nn"]["hard"] is True
    assert cfg["terms"]["mine"] == {"property": "qed", "lo": 0.6}
    assert cfg["terms"]["expert"] == {"ckpt": "some.pt"}
    assert compose_config([])["terms"] == {}


def test_gem_sample_records_terms_in_summary(ckpt, tmp_path, capsys):
    from graph_energy.cli.sample import main

    out = tmp_path / "run"
    assert main([f"ckpt={ckpt}", *FAST, f"out={out}", "terms=[no_nn,two_rings]", "terms.two_rings.weight=2.5",
                 f"+terms.expert.ckpt={ckpt}", "+terms.expert.weight=-0.5"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    summary = json.loads((out / "summary.json").read_text())
    assert line["terms"] == summary["terms"]
    by_name = {t["name"]: t for t in summary["terms"]}
    assert by_name["two_rings"]["weight"] == 2.5 and by_name["two_rings"]["penalty"] == "Window"
    assert by_name["no_nn"]["penalty"] == "Hard"
    assert by_name["expert"] == {"name": "expert", "kind": "expert", "weight": -0.5, "ckpt": str(ckpt),
                                 "differentiable": True}
    assert summary["terms_config"]["two_rings"]["weight"] == 2.5


def test_gem_sample_without_terms_writes_no_term_metadata(ckpt, capsys):
    from graph_energy.cli.sample import main

    assert main([f"ckpt={ckpt}", *FAST, "out=null"]) == 0
    assert "terms" not in json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("args,msg", [
    (["+terms.x={property:boiling,lo:1}"], "term 'x': unknown property 'boiling'; known: logp"),
    (["terms=[mu_target]"], "term 'mu_target': set predictor=<checkpoint"),
    (["+terms.e.ckpt=/no/such/model.pt"], "expert checkpoint /no/such/model.pt does not exist"),
    (["terms=[nope]"], "Could not load 'terms/nope'. (term presets: expert, has_nitrogen"),
])
def test_gem_sample_term_errors_are_one_line(ckpt, capsys, args, msg):
    from graph_energy.cli.sample import main

    assert main([f"ckpt={ckpt}", *FAST, "out=null", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gem-sample: error:") and msg in err[0]
