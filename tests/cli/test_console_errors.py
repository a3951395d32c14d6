"""Every console script: a bad input is one ``<name>: error:`` line on stderr and exit status 2, before
any work (gem-train: before loading data, leaving no run directory behind)."""

import importlib
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, make_tiny_checkpoint):
    tmp = tmp_path_factory.mktemp("gem_err")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEM_DATA_DIR", str(tmp / "data"))
    yield make_tiny_checkpoint(tmp)[0]
    mp.undo()


CASES = [
    ("data", ["dataset=nope"], "available datasets"),
    ("data", ["dataset=smiles", "dataset.source.path=/nonexistent/mols.smi"], "does not exist"),
    ("train", ["experiment=nope"], "Could not find 'experiment/nope'"),
    ("train", ["train.resume=/nonexistent/last.pt"], "train.resume=/nonexistent/last.pt does not exist"),
    ("train", ["experiment=qm9_finetune"], "pass train.init_from="),
    ("train", ["train.batch_size=0"], "train.batch_size must be >= 1"),
    ("sample", ["ckpt=/nonexistent/model.pt"], "does not exist"),
    ("sample", ["num_samples=0"], ">= 1"),
    ("sample", ["workers=0", "out=null"], "workers=0"),
    ("sample", ["overwrite=true", "resume=true"], "contradict"),
    ("sample", ["repair=-3", "out=null", "metrics=none"], "repair=-3 is not a number of steps"),
    ("calibrate", ["ckpt=/nonexistent/model.pt"], "model.pt"),
    ("evaluate", ["samples=/nonexistent/gen.smi"], "gen.smi"),
    ("evaluate", ["protocol=nope"], "available protocols"),
    ("plot", [], "pass run=<run dir>"),
    ("plot", ["run=/nonexistent/run"], "is not a directory"),
]


@pytest.mark.parametrize("script, argv, words", CASES, ids=[f"{c[0]}:{' '.join(c[1])}" for c in CASES])
def test_bad_input_is_one_line_and_status_2(script, argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GEM_RUNS_DIR", str(tmp_path / "runs"))
    main = importlib.import_module(f"graph_energy.cli.{script}").main
    assert main(list(argv)) == 2
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert out.out == "" and len(err) == 1, out.err
    assert err[0].startswith(f"gem-{script}: error: ") and words in err[0], err[0]
    assert not (tmp_path / "runs").exists()  # gem-train made no run directory


def test_gem_sample_node_count_above_the_model_size_names_the_limit(ckpt, capsys):
    from graph_energy.cli.sample import main

    assert main([f"ckpt={ckpt}", "num_nodes=99", "out=null", "metrics=none", "progress=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exceeds the model's max_nodes=" in err and "pass num_nodes=<1.." in err


def test_gem_evaluate_protocol_without_its_package_is_one_line(tmp_path, capsys, monkeypatch):
    """protocol=moses needs molsets' filter files: without the package, one line naming the install."""
    import importlib.util

    from graph_energy.cli.evaluate import main
    from graph_energy.metrics import moses as moses_mod

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "moses" else real(name, *a))
    moses_mod.filter_patterns.cache_clear()
    s = tmp_path / "s.smi"
    s.write_text("CCO\nc1ccccc1\nCCN\n")
    try:
        rc = main([f"samples={s}", f"reference={s}", f"train={s}", "protocol=moses", "progress=false",
                   "protocol.metrics=[basic,moses]"])
    finally:
        moses_mod.filter_patterns.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("gem-evaluate: error: protocol=moses needs a package")
    assert "molsets" in err[0]


def test_gem_evaluate_prints_the_table(tmp_path, capsys):
    from graph_energy.cli.evaluate import main

    s = tmp_path / "s.smi"
    s.write_text("CCO\nc1ccccc1\nCCN\nCC.O\n")
    assert main([f"samples={s}", f"reference={s}", f"train={s}", "protocol=gdss", "progress=false",
                 "protocol.metrics=[basic]", f"out={tmp_path / 'r.md'}"]) == 0
    err = capsys.readouterr().err
    table = (tmp_path / "r.md").read_text().strip()
    assert table.startswith("# Evaluation") and "| VUN" in table and table in err


def test_gem_train_console_script_fails_before_loading_data(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GEM_RUNS_DIR": str(tmp_path / "runs")}
    proc = subprocess.run([sys.executable, "-m", "graph_energy.cli.train", "experiment=quickstart",
                           f"train.resume={tmp_path / 'gone' / 'checkpoints' / 'last.pt'}"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"gem-train: error: train.resume={tmp_path / 'gone' / 'checkpoints' / 'last.pt'} "
                                                "does not exist; pass a checkpoint file (e.g. <run>/checkpoints/last.pt)"]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "gone").exists()


def test_gem_train_resume_continues_in_the_checkpoints_run_directory(tmp_path, monkeypatch):
    from graph_energy.cli.train import prepare_config

    monkeypatch.setenv("GEM_RUNS_DIR", str(tmp_path / "runs"))
    ck = tmp_path / "old_run" / "checkpoints" / "step_00000040.pt"
    ck.parent.mkdir(parents=True)
    ck.write_bytes(b"")  # only its place matters here; the trainer reads it later
    cfg = prepare_config(["experiment=quickstart", f"train.resume={ck}"])
    assert cfg["train"]["run_dir"] == str(tmp_path / "old_run")  # same metrics files, not a new directory
    explicit = prepare_config(["experiment=quickstart", f"train.resume={ck}", f"train.run_dir={tmp_path / 'x'}"])
    assert explicit["train"]["run_dir"] == str(tmp_path / "x")
    assert prepare_config([f"hydra.run.dir={tmp_path / 'h'}"])["train"]["run_dir"] == str(tmp_path / "h")
    fresh = prepare_config([])["train"]["run_dir"]
    assert fresh.startswith(str(tmp_path / "runs" / "train")) and not (tmp_path / "runs").exists()
    assert prepare_config(["experiment=qm9_finetune", f"train.init_from={ck}"])["train"]["init_from"] == str(ck)
