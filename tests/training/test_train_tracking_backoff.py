"""wandb offline run files, metrics files across resume, NaN back-off inside the trainer."""

import json

import pytest
import torch
from train_helpers import compose_train, tiny_overrides

from graph_energy.cli.train import build_parts, train_settings
from graph_energy.config import instantiate
from graph_energy.tracking import FileTracker, WandbTracker
from graph_energy.training import Objective, Trainer, TrainingDivergedError


def test_wandb_offline_writes_run_files(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    t = WandbTracker(project="gem-test")
    t.open(tmp_path / "run", {"seed": 1}, 0, 3)
    for s in (1, 2, 3):
        t.log({"train/loss": 1.0 / s}, s)
    t.close()
    runs = list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    logs = list(runs[0].glob("run-*.wandb"))
    assert len(logs) == 1, list(runs[0].iterdir())
    blob = logs[0].read_bytes()  # the offline transaction log holds the logged keys and the config
    assert b"train/loss" in blob and b"seed" in blob


def test_file_tracker_merges_rows_and_truncates_on_resume(tmp_path):
    t = FileTracker()
    t.open(tmp_path)
    t.log({"train/loss": 1.0}, 1)
    t.log({"train/loss": 0.5}, 2)
    t.log({"val/loss": 0.7}, 2)
    t.log({"train/loss": 0.25}, 3)
    t.close()
    assert (tmp_path / "metrics.csv").read_text().splitlines() == [
        "step,train/loss,val/loss", "1,1.0,", "2,0.5,0.7", "3,0.25,"]
    t2 = FileTracker()
    t2.open(tmp_path, start_step=2)  # resumed from step 2: step 3 is redone
    t2.log({"train/loss": float("nan")}, 3)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 2, 3] and json.loads(lines[-1])["train/loss"] is None


class _Poisoned(Objective):
    """Wraps an objective; returns a NaN loss on chosen (step) calls."""

    def __init__(self, inner, bad_calls):
        self.inner, self.bad, self.calls = inner, set(bad_calls), 0

    def __call__(self, model, x_1, generator, *, step=0):
        out = self.inner(model, x_1, generator, step=step)
        self.calls += 1
        if self.calls in self.bad:
            out.loss = out.loss * float("nan")
        return out


def _trainer(smiles_file, tmp_path, bad, max_steps):
    cfg = compose_train(tiny_overrides(smiles_file, tmp_path, max_steps=max_steps, val_every=0, ckpt_every=0))
    data = instantiate(dict(cfg.dataset), trusted=True)
    parts = build_parts(cfg, data)
    return Trainer(parts.model, _Poisoned(parts.objective, bad), parts.optimizer_factory, parts.schedule,
                   data.train, None, data.spec.num_atom_types, data.spec.num_bond_types, train_settings(cfg),
                   tmp_path, checkpoint_meta={"config": {}, "spec": data.spec.to_dict()})


def test_nan_step_is_skipped_and_lr_backs_off(smiles_file, tmp_path):
    tr = _trainer(smiles_file, tmp_path / "a", bad={2}, max_steps=4)
    res = tr.fit()
    assert res.status == "completed" and res.skipped_steps == 1
    assert res.losses[1] != res.losses[1] and all(v == v for i, v in enumerate(res.losses) if i != 1)
    assert tr.schedule.backoff_scale == 0.5 and tr.schedule.total_failures == 1
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_repeated_failures_stop_with_clear_message(smiles_file, tmp_path):
    tr = _trainer(smiles_file, tmp_path / "b", bad=set(range(1, 100)), max_steps=20)
    with pytest.raises(TrainingDivergedError, match="consecutive steps"):
        tr.fit()


def test_only_tracking_imports_wandb_and_only_cli_imports_hydra():
    import ast
    from pathlib import Path

    import graph_energy

    root = Path(graph_energy.__file__).parent
    bad = []
    for f in root.rglob("*.py"):
        rel = f.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(f.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                top = n.split(".")[0]
                if (top == "wandb" and rel != "tracking.py") or (top == "hydra" and not rel.startswith("cli/")):
                    bad.append(f"{rel} imports {n}")
    assert not bad, bad
