"""gem-sample / gem-calibrate end to end on a tiny random checkpoint and a SMILES file."""

import csv
import json

import pytest
import yaml

from graph_energy.config import get_path

FAST = ["sampler.phases.0.max_steps=4", "sampler.phases.1.max_steps=3", "progress=false", "num_threads=1",
        "out=null", "metrics=none"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, make_tiny_checkpoint):
    tmp = tmp_path_factory.mktemp("gem")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEM_DATA_DIR", str(tmp / "data"))
    yield make_tiny_checkpoint(tmp)[0]
    mp.undo()


def test_gem_sample_writes_files_and_is_deterministic(ckpt, tmp_path, capsys):
    from graph_energy.cli.sample import main

    args = [f"ckpt={ckpt}", "num_samples=5", "batch_size=2", *FAST]
    assert main([*args, f"out={tmp_path / 'a'}"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["num_samples"] == 5 and 0 <= summary["validity"] <= 1
    assert {"uniqueness_smiles", "molecules_per_s", "evaluations_per_molecule", "acceptance_rate"} <= set(summary)
    smi = (tmp_path / "a" / "samples.smi").read_text().splitlines()
    rows = list(csv.DictReader(open(tmp_path / "a" / "samples.csv")))
    assert len(smi) == 5 and len(rows) == 5
    assert {"energy", "transport_steps", "mixing_steps", "switch_step", "valid"} <= set(rows[0])
    assert main([*args, f"out={tmp_path / 'b'}"]) == 0
    assert (tmp_path / "b" / "samples.smi").read_text() == (tmp_path / "a" / "samples.smi").read_text()
    # phases by name as well as by index
    assert main([*args, "num_nodes=[3,4]", "sampler=paper", "sampler.phases.transport.max_steps=2",
                 "sampler.phases.mixing.max_steps=2"]) == 0
    assert main([*args, "num_nodes=4", "sampler.phases.1.max_steps=0"]) == 0


def test_gem_sample_errors(ckpt, tmp_path, capsys, monkeypatch):
    from graph_energy import api
    from graph_energy.cli.sample import main

    monkeypatch.setattr(api, "_ASSETS", tmp_path / "no_assets")  # as if no bundled model shipped
    assert main(["num_samples=2"]) == 2
    assert "ckpt=" in capsys.readouterr().err
    assert main([f"ckpt={tmp_path / 'missing.pt'}"]) == 2
    assert main([f"ckpt={ckpt}", "sampler=nope"]) == 2
    assert "available samplers" in capsys.readouterr().err
    assert main([f"ckpt={ckpt}", "sampler.phases.mix.max_steps=2"]) == 2
    assert "no phase named 'mix'" in capsys.readouterr().err


def test_gem_calibrate_writes_sampler_and_calibration(ckpt, tmp_path, capsys, caplog):
    from graph_energy.cli.calibrate import main as calibrate
    from graph_energy.cli.sample import main as sample
    from graph_energy.training.checkpoint import load_checkpoint

    out = tmp_path / "cal"
    args = [f"ckpt={ckpt}", f"out={out}", "num_graphs=20", "split=train", "search.num_samples=3",
            "search.batch_size=3", "search.grid.phases.transport.kernel.edits_per_step=[1,3]",
            "search.grid.phases.mixing.kernel.beta_mh=[[0.5,4.0,2]]", "~search.grid.phases.mixing.kernel.proposal",
            "base.phases.0.max_steps=3", "base.phases.1.max_steps=2", "num_threads=1", "write_checkpoint=true",
            "search.objective._target_=graph_energy.samplers.search.ValidUnique"]  # the old name still works
    assert calibrate(args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["candidates"] == 4 and "best_knobs" in summary
    assert "score" in captured.err and "edits_per_step" in captured.err  # the search table
    assert "graph_energy.samplers.search.ValidUnique is deprecated" in caplog.text
    assert set(summary["best_knobs"]) == {"phases.transport.kernel.edits_per_step", "phases.mixing.kernel.beta_mh"}
    for f in ("calibration.json", "sampler.yaml", "search.csv"):
        assert (out / f).is_file()
    assert load_checkpoint(ckpt).extras["calibration"]["quantile"] == 0.5
    assert json.loads((out / "calibration.json").read_text())["method"] == "pooled"
    assert calibrate([f"ckpt={ckpt}", f"out={out / 'per_size'}", "num_graphs=20", "split=train", "search.enabled=false",
                      "thresholds=per_size", "num_threads=1"]) == 0
    assert json.loads((out / "per_size" / "calibration.json").read_text())["method"] == "per_size"
    written = yaml.safe_load((out / "sampler.yaml").read_text())
    assert get_path(written, "phases.transport.max_steps") == 3  # the step budget stays as in the base
    assert get_path(written, "phases.transport.kernel.edits_per_step") == summary["best_knobs"][
        "phases.transport.kernel.edits_per_step"]
    assert load_checkpoint(ckpt).extras["sampler"] == written
    assert sample([f"ckpt={ckpt}", "num_samples=2", f"sampler_file={out / 'sampler.yaml'}",
                   f"calibration={out / 'calibration.json'}", "progress=false", "out=null", "metrics=none"]) == 0
    # a sampler.yaml in the old three-part form (earlier gem-calibrate runs) still works
    old = {"transport": {"edits_per_step": 2, "max_steps": 3}, "switch": {"energy": True},
           "mixing": {"num_steps": 2, "beta_mh": 4.0}}
    (out / "old.yaml").write_text(yaml.safe_dump(old))
    assert sample([f"ckpt={ckpt}", "num_samples=2", f"sampler_file={out / 'old.yaml'}", "progress=false",
                   "out=null", "metrics=none"]) == 0


def test_gem_sample_runs_a_kernel_selected_by_target_alone(ckpt, tmp_path, capsys):
    """A kernel class defined in a test module, chosen on the command line with no change to the library."""
    from graph_energy.cli.sample import main

    args = [f"ckpt={ckpt}", "num_samples=4", "num_nodes=5", "grid=0", "metrics=none", "progress=false",
            "num_threads=1", "sampler.phases.0.max_steps=2", "sampler.phases.1.max_steps=3",
            "~sampler.phases.mixing.kernel", "+sampler.phases.mixing.kernel={_target_:toy_kernels.ToyKernel,atom:0}"]
    assert main([*args, f"out={tmp_path / 'toy'}"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "toy" / "samples.csv")))
    assert len(rows) == 4 and all(r["mixing_steps"] == "3" for r in rows)
    assert all(int(r["toy_moves"]) <= 1 for r in rows) and any(int(r["toy_moves"]) == 1 for r in rows)
    # the toy phase leaves five isolated atoms of class 0 (carbon in this vocabulary), whatever transport did
    assert [r["smiles"] for r in rows] == ["C.C.C.C.C"] * 4
    assert len({r["energy"] for r in rows}) == 1
    capsys.readouterr()
