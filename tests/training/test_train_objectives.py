"""The objective contract: any Objective subclass, chosen by ``_target_``, is what gem-train trains."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import tiny_overrides

from graph_energy.training import Objective, TransportObjective, bind_objective

HERE = Path(__file__).parent


def test_gem_train_trains_an_objective_chosen_by_target_alone(smiles_file, tmp_path):
    """quickstart with the toy objective of toy_objectives.py (beside this file): every training loss it
    returned is the train/loss logged for that step; validation ran it in eval mode without autograd."""
    run, record = tmp_path / "run", tmp_path / "losses.jsonl"
    argv = ["experiment=quickstart", *tiny_overrides(smiles_file, run, max_steps=3, ckpt_every=0),
            "objective._target_=toy_objectives.ToyObjective", f"+objective.record={record}", f"hydra.run.dir={run}"]
    # this folder on the path, as a user's own package would be (a top-level "tests" package of some
    # installed distribution may shadow the name "tests", so the module is addressed without it)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "graph_energy.cli.train", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    train_calls = [c for c in calls if c["training"]]
    assert [c["step"] for c in train_calls] == [0, 1, 2]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}
    assert logged == {c["step"] + 1: c["loss"] for c in train_calls}  # logged after the update
    assert all("train/energy_data" in r for r in rows if "train/loss" in r)
    val = [c for c in calls if not c["training"]]  # raw and EMA weights, one batch each
    assert len(val) == 2 and not any(c["grad_enabled"] for c in val)
    assert [r["val/loss"] for r in rows if "val/loss" in r] == [val[0]["loss"]]


class _Needs(Objective):
    def __init__(self, noise, scale: float = 1.0) -> None:
        self.noise, self.scale = noise, scale

    def __call__(self, model, x_1, generator, *, step=0):
        raise NotImplementedError


def test_bind_objective_passes_what_the_constructor_names(tmp_path):
    noise, spec = object(), object()
    built = bind_objective(functools.partial(_Needs, scale=2.0), noise=noise, spec=spec, stats=None)
    assert built.noise is noise and built.scale == 2.0
    ready = _Needs(noise)
    assert bind_objective(ready, noise=object()) is ready
    assert bind_objective(functools.partial(_Needs, noise="mine"), noise=noise).noise == "mine"  # config wins
    with pytest.raises(TypeError, match="returned a dict, not an Objective"):
        bind_objective(functools.partial(dict, a=1), noise=noise)
    with pytest.raises(TypeError, match="built a int, not an Objective"):
        bind_objective(3)
    with pytest.raises(TypeError, match="objective must be a graph_energy.training.Objective"):
        from graph_energy.training import Trainer

        Trainer(torch.nn.Linear(1, 1), lambda *a: None, None, None, [], None, 1, 1, None, tmp_path)
    assert TransportObjective.second_order and issubclass(TransportObjective, Objective)
