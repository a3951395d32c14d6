"""The top-level Python API (ge.load / GEMModel.sample / .score / ge.evaluate) and the bundling tool,
on a tiny random checkpoint built in the test."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import graph_energy as ge

ROOT = Path(__file__).resolve().parents[1]


def short_sampler(transport: int = 4, mixing: int = 3) -> dict:
    from graph_energy.config import set_path

    cfg = yaml.safe_load((ROOT / "graph_energy" / "conf" / "sampler" / "default.yaml").read_text())
    set_path(cfg, "phases.transport.max_steps", transport)
    set_path(cfg, "phases.mixing.max_steps", mixing)
    return cfg


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, make_tiny_checkpoint):
    """(checkpoint path, dataset config) of a random tiny model (with EMA weights) over a SMILES file."""
    tmp = tmp_path_factory.mktemp("api")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEM_DATA_DIR", str(tmp / "data"))
    mp.setenv("GEM_CACHE_DIR", str(tmp / "cache"))
    yield make_tiny_checkpoint(tmp, ema=True)
    mp.undo()


@pytest.fixture(scope="module")
def model(tiny):
    return ge.load(tiny[0])


def test_import_is_light():
    code = "import sys, graph_energy as ge; assert 'torch' not in sys.modules; assert callable(ge.load)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sample_same_seed_same_molecules(model):
    a = model.sample(6, seed=7, sampler=short_sampler(), batch_size=4)
    b = model.sample(6, seed=7, sampler=short_sampler(), batch_size=4)
    assert len(a) == 6 and a.smiles == b.smiles
    assert np.array_equal(a.energies, b.energies) and a.diagnostics == b.diagnostics
    assert a.energies.shape == (6,) and np.isfinite(a.energies).all()
    assert a.valid.tolist() == [s is not None for s in a.smiles]
    assert a.valid_smiles == [s for s in a.smiles if s is not None]
    assert set(a.diagnostics[0]) >= {"transport_steps", "mixing_steps", "switch_step", "switch_reason", "accepted"}
    assert a.summary["num_samples"] == 6 and 0 <= a.summary["validity"] <= 1
    assert len(a.records()) == 6
    c = model.sample(6, seed=8, sampler=short_sampler(), batch_size=4)
    assert not np.array_equal(a.energies, c.energies)


def test_sample_options(model, tmp_path):
    s = model.sample(3, seed=0, num_nodes=4, sampler=short_sampler(2, 0))
    assert s.num_nodes.tolist() == [4, 4, 4]
    assert all(d["mixing_steps"] == 0 for d in s.diagnostics)
    s = model.sample(4, seed=0, num_nodes=[2, 3], sampler=short_sampler(2, 1))
    assert set(s.num_nodes.tolist()) <= {2, 3}
    path = tmp_path / "sampler.yaml"
    path.write_text(yaml.safe_dump(short_sampler(2, 1)))
    from_file = model.sample(2, seed=1, sampler=str(path))
    assert from_file.smiles == model.sample(2, seed=1, sampler=model.sampler(short_sampler(2, 1))).smiles
    assert model.sampler("paper").phase("mixing").max_steps == 1000
    assert model.sampler("greedy").names == ("transport",)
    with pytest.raises(ValueError, match="max_nodes"):
        model.sample(2, num_nodes=model.spec.max_nodes + 1, sampler=short_sampler())
    with pytest.raises(ValueError, match="unknown sampler 'nope'"):
        model.sample(2, sampler="nope")
    with pytest.raises(ValueError, match="stores no tuned sampler"):
        model.sample(2, sampler="checkpoint")
    with pytest.raises(ValueError, match="n and batch_size"):
        model.sample(0)


def test_score_shapes_and_consistency(model):
    e = model.score(["CCO", "c1ccccc1", "CC(=O)N"])
    assert isinstance(e, np.ndarray) and e.shape == (3,) and np.isfinite(e).all()
    assert model.score("CCO").shape == (1,)
    np.testing.assert_allclose(model.score(["CCO", "c1ccccc1", "CC(=O)N"], batch_size=1), e, rtol=1e-4, atol=1e-4)
    # canonicalisation does not change the graph, hence the energy
    np.testing.assert_allclose(model.score(["OCC"]), e[:1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bad, match", [
    ("CCS", r"'CCS'.*atom 'S' is outside the model's vocabulary"),
    ("C" * 20, r"20 heavy atoms, but this model handles at most max_nodes="),
    ("C1CC(", r"RDKit cannot parse it"),
    ("", r"not a non-empty SMILES"),
    ("[CH2]C", r"radical"),
])
def test_score_rejects_molecules_with_the_reason(model, bad, match):
    with pytest.raises(ValueError, match=match) as info:
        model.score(["CCO", bad])
    assert "#1" in str(info.value)


def test_score_counts_further_failures(model):
    with pytest.raises(ValueError, match=r"#0 'CCS'.*2 more of the 3 molecules"):
        model.score(["CCS", "CCCl", "C1CC("])
    with pytest.raises(ValueError, match="no molecules"):
        model.score([])


def test_load_errors(tmp_path, monkeypatch):
    from graph_energy import api

    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        ge.load(tmp_path / "missing.pt")
    monkeypatch.setattr(api, "_ASSETS", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"gem-train experiment=qm9.*bundle_model.py"):
        ge.load("qm9")
    with pytest.raises(ValueError, match="no bundled model named"):
        ge.bundled_model_path("zinc")


def test_evaluate_basic(tiny, model):
    report = ge.evaluate(["CCO", "CCO", "CCCCO", None, "not a smiles"], dataset=tiny[1], metrics=["basic"])
    assert report.metrics["validity"] == pytest.approx(0.6)
    assert report.metrics["uniqueness"] == pytest.approx(2 / 3)
    assert "novelty" in report.metrics and "fcd/test" not in report.metrics
    assert model.evaluate(["CCO"], metrics=["basic"]).metrics["validity"] == 1.0


def test_save_image(model, tmp_path):
    s = model.sample(4, seed=0, sampler=short_sampler())
    s.smiles[0] = "CCO"  # at least one drawable molecule whatever the random model made
    try:
        drawn = s.save_image(tmp_path / "grid.png")
    except ImportError as err:
        pytest.skip(f"RDKit drawing unavailable: {err}")
    assert drawn >= 1 and (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def _bundle_module():
    spec = importlib.util.spec_from_file_location("bundle_model", ROOT / "experiments" / "bundle_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("half", [False, True])
def test_bundle_keeps_ema_weights_and_drops_training_state(tiny, model, tmp_path, half):
    from graph_energy.training.checkpoint import load_checkpoint

    out = tmp_path / "bundle.pt"
    report = _bundle_module().bundle(Path(tiny[0]), out, half=half, num_graphs=50)
    assert report["weights"] == "ema" and report["calibrated"] and report["size_mb"] < 20
    raw = load_checkpoint(out)
    assert raw.optimizer is None and raw.ema is None and raw.rng is None
    assert raw.config["train"].get("run_dir") is None and raw.extras["bundle"]["source_step"] == 3
    assert str(tiny[0].parent) not in repr(raw.config)  # no machine paths travel with a bundle
    assert raw.config["dataset"]["path"] is None
    assert next(iter(raw.model.values())).dtype == (torch.float16 if half else torch.float32)
    bundled = ge.load(out)
    assert bundled.calibration is not None
    smiles = ["CCO", "c1ccccc1", "CC(=O)N"]
    np.testing.assert_allclose(bundled.score(smiles), model.score(smiles), atol=5e-2 if half else 1e-5)


def test_gem_sample_writes_picture_and_metrics(tiny, tmp_path, capsys):
    import json

    from graph_energy.cli.sample import main

    out = tmp_path / "s"
    assert main([f"ckpt={tiny[0]}", "num_samples=4", "sampler.phases.0.max_steps=3", "sampler.phases.1.max_steps=2",
                 "progress=false", "num_threads=1", "metrics=basic", "grid=4", f"out={out}"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert set(summary["metrics"]) >= {"validity", "uniqueness", "novelty"}
    assert "Validity" in captured.err and (out / "metrics.md").is_file() and (out / "metrics.json").is_file()
    assert json.loads((out / "summary.json").read_text())["metrics"] == summary["metrics"]
    try:
        from rdkit.Chem import Draw  # noqa: F401
    except Exception:  # noqa: BLE001 - gem-sample then only warns
        return
    assert (out / "samples.png").is_file() == (summary["validity"] > 0)
