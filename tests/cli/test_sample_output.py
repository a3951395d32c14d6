"""gem-sample's output folder and workers: the same samples whatever the worker count, the folder checked
before sampling, earlier runs refused unless overwrite/resume, finished batches kept on interruption."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

FAST = ["sampler.phases.0.max_steps=6", "sampler.phases.1.max_steps=8", "progress=false", "num_threads=1",
        "metrics=none", "grid=0"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, make_tiny_checkpoint):
    tmp = tmp_path_factory.mktemp("gem_out")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEM_DATA_DIR", str(tmp / "data"))
    yield make_tiny_checkpoint(tmp)[0]
    mp.undo()


def _rows(folder):
    with open(folder / "samples.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_one_and_two_workers_give_identical_samples(ckpt, one_thread):
    from graph_energy.cli.sample import compose_config
    from graph_energy.samplers import build_sampler, generate
    from graph_energy.samplers.generate import batch_seed
    from graph_energy.training.checkpoint import load_energy_model

    loaded = load_energy_model(ckpt)
    sampler = build_sampler(compose_config(FAST)["sampler"], trusted=True)
    kw = dict(n=7, batch_size=2, seed=5, sampler=sampler)
    one = generate(loaded.model, loaded.spec, loaded.stats, workers=1, **kw)
    two = generate(loaded.model, loaded.spec, loaded.stats, workers=2, **kw)
    assert len(one) == 7 and one.smiles == two.smiles
    assert torch.equal(one.energy, two.energy) and torch.equal(one.evaluations, two.evaluations)
    # continuing from batch 2 gives exactly the last batches of the full run
    tail = generate(loaded.model, loaded.spec, loaded.stats, workers=2, start_batch=2, **kw)
    assert tail.smiles == one.smiles[4:] and torch.equal(tail.energy, one.energy[4:])
    # batch 0 keeps the run seed (one-batch runs are unchanged); the others are distinct hashes of (seed, index)
    assert batch_seed(5, 0) == 5 and len({batch_seed(5, i) for i in range(1, 100)}) == 99
    assert 0 <= batch_seed(-3, 7) < 2**63


def test_gem_sample_workers_agree_and_summary_matches_the_library(ckpt, tmp_path, capsys):
    from graph_energy.cli.sample import main

    args = [f"ckpt={ckpt}", "num_samples=7", "batch_size=2", "seed=3", *FAST]
    assert main([*args, "workers=1", f"out={tmp_path / 'w1'}"]) == 0
    s1 = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*args, "workers=2", f"out={tmp_path / 'w2'}"]) == 0
    s2 = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (tmp_path / "w1" / "samples.smi").read_text() == (tmp_path / "w2" / "samples.smi").read_text()
    assert _rows(tmp_path / "w1") == _rows(tmp_path / "w2")
    drop = ("molecules_per_s", "workers")
    assert {k: v for k, v in s1.items() if k not in drop} == {k: v for k, v in s2.items() if k not in drop}
    assert "uniqueness" not in s1 and 0 <= s1["uniqueness_smiles"] <= 1  # the protocol's uniqueness is another figure
    progress = json.loads((tmp_path / "w1" / "progress.json").read_text())
    assert progress["batches_done"] == progress["num_batches"] == 4 and progress["samples_done"] == 7


def test_out_is_checked_before_sampling_and_earlier_runs_are_refused(ckpt, tmp_path, capsys):
    from graph_energy.cli.sample import main

    args = [f"ckpt={ckpt}", "num_samples=3", "batch_size=2", *FAST]
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for bad, words in ((blocker, "is a file"), (blocker / "sub", "cannot write to out=")):
        assert main([*args, f"out={bad}"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err and "sampling" not in err
    out = tmp_path / "s"
    assert main([*args, f"out={out}"]) == 0
    first = (out / "samples.smi").read_text()
    capsys.readouterr()
    assert main([*args, "seed=1", f"out={out}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"gem-sample: error: out={out} already holds samples") and "overwrite=true" in err
    assert (out / "samples.smi").read_text() == first  # untouched
    assert main([*args, "seed=1", f"out={out}", "resume=true"]) == 2  # other options: not the same run
    assert "seed=0 (now 1)" in capsys.readouterr().err
    assert main([*args, "seed=1", f"out={out}", "overwrite=true"]) == 0
    assert len((out / "samples.smi").read_text().splitlines()) == 3
    # an error after the folder check leaves no empty folder behind
    assert main([*args, "num_nodes=99", f"out={tmp_path / 'never'}"]) == 2
    assert "max_nodes" in capsys.readouterr().err and not (tmp_path / "never").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_keeps_finished_batches_and_resumes_to_the_same_samples(ckpt, tmp_path, sig, capsys):
    from graph_energy.cli.sample import main

    args = [f"ckpt={ckpt}", "num_samples=12", "batch_size=2", "seed=2", "workers=2", *FAST,
            "sampler.phases.1.max_steps=40"]
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "graph_energy.cli.sample", *args, f"out={out}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        progress = out / "progress.json"
        while time.time() < deadline and not progress.exists():
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = json.loads(progress.read_text())
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived (machine too fast for this budget)")
    assert proc.returncode == 130, err[-2000:]
    assert "resume=true" in err and err.strip().splitlines()[-1] == "gem-sample: interrupted"
    kept = done["samples_done"]
    assert 0 < kept < 12 and len(_rows(out)) >= kept
    assert not (out / "summary.json").exists()
    assert main([*args, f"out={out}", "resume=true"]) == 0
    resumed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*args, f"out={tmp_path / 'whole'}"]) == 0
    whole = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out / "samples.smi").read_text() == (tmp_path / "whole" / "samples.smi").read_text()
    assert _rows(out) == _rows(tmp_path / "whole")
    assert resumed["num_samples"] == 12 and resumed["mean_energy"] == whole["mean_energy"]
