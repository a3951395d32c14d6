import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from train_helpers import compose_train, tiny_overrides

from graph_energy.cli.train import train
from graph_energy.training import CheckpointError, load_checkpoint


def test_resumed_run_matches_uninterrupted(smiles_file, tmp_path):
    full = train(compose_train(tiny_overrides(smiles_file, tmp_path / "full")))
    assert full.status == "completed" and full.step == 6 and len(full.losses) == 6
    ck = tmp_path / "full" / "checkpoints" / "step_00000003.pt"
    assert ck.is_file()
    resumed = train(compose_train(tiny_overrides(smiles_file, tmp_path / "resumed") + [f"train.resume={ck}"]))
    assert resumed.step == 6 and len(resumed.losses) == 3
    assert max(abs(a - b) for a, b in zip(full.losses[3:], resumed.losses)) <= 1e-6
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for k in a.model:
        assert torch.allclose(a.model[k], b.model[k], atol=1e-6), k
    for k in a.ema:
        assert torch.allclose(a.ema[k], b.ema[k], atol=1e-6), k
    # the checkpoint is self-contained
    assert a.config["model"]["n_layers"] == 2 and a.spec["atom_types"] and a.stats["num_nodes_hist"]
    assert a.rng["torch"].dtype == torch.uint8 and a.optimizer["state"]
    # an incompatible checkpoint names the file and the mismatch
    bad = compose_train(tiny_overrides(smiles_file, tmp_path / "bad") + [f"train.resume={ck}", "model.hidden_x=24"])
    with pytest.raises(CheckpointError, match=r"step_00000003.pt do not fit.*shape mismatch"):
        train(bad)


def test_sigterm_writes_checkpoint_and_exits_cleanly(smiles_file, tmp_path):
    run = tmp_path / "sig"
    args = tiny_overrides(smiles_file, run, max_steps=100000, val_every=0, ckpt_every=0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "graph_energy.cli.train", *args, "hydra.run.dir=" + str(run)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        metrics = run / "metrics.jsonl"
        while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    ck = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ck.step == summary["step"] >= 2
