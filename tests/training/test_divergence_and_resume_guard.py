"""Nothing lost when training goes wrong: a diverging run keeps (and names) its last good checkpoint,
a huge learning rate is handled, and a refused ``train.resume`` leaves the run's files untouched."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import compose_train, tiny_overrides

from graph_energy.cli.train import build_parts, train, train_settings
from graph_energy.config import instantiate
from graph_energy.training import CheckpointError, Objective, Trainer, TrainingDivergedError, load_checkpoint


class _NaNAt(Objective):
    """The wrapped objective, with a NaN loss at the given steps (as a diverging run produces)."""

    def __init__(self, inner, bad_steps):
        self.inner, self.bad = inner, set(bad_steps)

    def __call__(self, model, x_1, generator, *, step=0):
        out = self.inner(model, x_1, generator, step=step)
        if step in self.bad:
            out.loss = out.loss * float("nan")
        return out


def _trainer(smiles_file, run, bad, **train):
    cfg = compose_train(tiny_overrides(smiles_file, run, val_every=0, **train))
    data = instantiate(dict(cfg.dataset), trusted=True)
    parts = build_parts(cfg, data)
    return Trainer(parts.model, _NaNAt(parts.objective, bad), parts.optimizer_factory, parts.schedule,
                   data.train, None, data.spec.num_atom_types, data.spec.num_bond_types, train_settings(cfg),
                   run, checkpoint_meta={"config": {}, "spec": data.spec.to_dict()})


def test_divergence_keeps_and_names_the_last_good_checkpoint(smiles_file, tmp_path):
    run = tmp_path / "run"
    # one NaN at step 7 (the rate backs off), then NaN for good from step 11: a run that diverges
    tr = _trainer(smiles_file, run, bad={7, *range(11, 100)}, max_steps=40, ckpt_every=2, keep_checkpoints=1)
    with pytest.raises(TrainingDivergedError) as info:
        tr.fit()
    good = run / "checkpoints" / "step_00000006.pt"
    msg = str(info.value)
    assert f"train.resume={good}" in msg and "non-finite at step 7" in msg and "optim.optimizer.lr" in msg
    assert info.value.checkpoint == good
    # rotation (keep_checkpoints=1) kept the good one; nothing was written after a non-finite step
    names = sorted(p.name for p in (run / "checkpoints").glob("*.pt"))
    assert names == ["last.pt", "step_00000006.pt", "step_00000010.pt"]
    ck = load_checkpoint(good)
    assert ck.step == 6 and all(torch.isfinite(v).all() for v in ck.model.values())
    assert load_checkpoint(run / "checkpoints" / "last.pt").step == 10  # written after finite steps only
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["good_checkpoint"] == str(good)
    # and the named checkpoint resumes
    again = _trainer(smiles_file, tmp_path / "again", bad=set(), max_steps=8, ckpt_every=0)
    res = again.fit(resume_from=good)
    assert res.status == "completed" and res.step == 8 and all(v == v for v in res.losses)


def test_no_checkpoint_while_the_loss_is_non_finite(smiles_file, tmp_path):
    run = tmp_path / "run"
    tr = _trainer(smiles_file, run, bad={3, 5}, max_steps=6, ckpt_every=2, keep_checkpoints=3)
    res = tr.fit()  # steps 3 and 5 are NaN: no checkpoint after either (at steps 4 and 6)
    assert res.status == "completed" and res.skipped_steps == 2
    assert sorted(p.name for p in (run / "checkpoints").glob("*.pt")) == ["last.pt", "step_00000002.pt"]
    assert res.last_checkpoint == run / "checkpoints" / "step_00000002.pt" == res.good_checkpoint


@pytest.mark.parametrize("lr", ["1e38", "10"])
def test_huge_learning_rates_end_in_a_divergence_error_not_a_crash(smiles_file, tmp_path, lr):
    cfg = compose_train(tiny_overrides(smiles_file, tmp_path / "run", max_steps=30, ckpt_every=1, val_every=0)
                        + [f"optim.optimizer.lr={lr}"])
    with pytest.raises(TrainingDivergedError, match="optim.optimizer.lr") as info:
        train(cfg)
    # the checkpoint after the first (finite) update holds weights whose loss is already non-finite
    assert "No checkpoint was written before the loss became non-finite" in str(info.value)
    assert info.value.checkpoint is None


@pytest.mark.parametrize("lr", ["nan", "-1e-3", "inf"])
def test_impossible_learning_rates_are_refused_up_front(smiles_file, tmp_path, lr):
    cfg = compose_train(tiny_overrides(smiles_file, tmp_path / "run") + [f"optim.optimizer.lr={lr}"])
    with pytest.raises(ValueError, match=r"optim\.optimizer") as info:
        train(cfg)
    assert "learning rate" in str(info.value).lower()


def test_refused_resume_writes_nothing(smiles_file, tmp_path):
    run = tmp_path / "run"
    base = tiny_overrides(smiles_file, run, max_steps=3, ckpt_every=3, val_every=0)
    train(compose_train(base))
    ck = run / "checkpoints" / "last.pt"
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    # another model size
    with pytest.raises(CheckpointError, match="shape mismatch"):
        train(compose_train(base + [f"train.resume={ck}", "model.hidden_x=24", "train.max_steps=6"]))
    # another vocabulary (a dataset with sulfur and chlorine)
    other = tmp_path / "other.smi"
    other.write_text("\n".join(["CCS", "CCCl", "ClCCS", "CSC"] * 8) + "\n")
    with pytest.raises(ValueError, match="molecular spec differs"):
        train(compose_train([a.replace(str(smiles_file), str(other)) for a in base]
                            + [f"train.resume={ck}", "train.max_steps=6"]))
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


@pytest.mark.slow  # a subprocess: ~10-20 s of interpreter start-up and data preparation
def test_gem_train_reports_divergence_in_one_line(smiles_file, tmp_path):
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    args = tiny_overrides(smiles_file, run, max_steps=30, val_every=0) + ["optim.optimizer.lr=1e38",
                                                                          f"hydra.run.dir={run}"]
    proc = subprocess.run([sys.executable, "-m", "graph_energy.cli.train", *args, "log_level=ERROR"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"})
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("gem-train: error:")]
    assert len(lines) == 1 and "training diverged" in lines[0] and "optim.optimizer.lr" in lines[0]
    assert "Traceback" not in proc.stderr and "overflow" not in proc.stderr
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged"
