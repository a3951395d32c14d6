"""A head defined in a test module, chosen only by a ``_target_`` override, trains through gem-train."""

import math

import pytest
import torch
from hydra import compose, initialize_config_module
from model_helpers import random_graph

from graph_energy.config import UnsafeTargetError
from graph_energy.training.checkpoint import load_checkpoint, load_energy_model

SMILES = "CCO CC(=O)O c1ccccc1 CCN CC(C)O OCC(O)CO CC#N C1CCCCC1 CC(=O)N COC CCOC(C)=O c1ccncc1 CCCC OCCO".split()


def test_toy_head_selected_by_target_override_trains(tmp_path, monkeypatch):
    import graph_energy.config as gc
    from graph_energy.cli.train import train

    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(gc, "_ALLOWED", set())
    smi = tmp_path / "mols.smi"
    smi.write_text("\n".join(SMILES * 2) + "\n")
    run = tmp_path / "run"
    overrides = ["experiment=quickstart", "model=tiny", "model.head._target_=toy_heads.ToyEnergyHead",
                 "+model.head.scale=0.75", "dataset=smiles", f"dataset.source.path={smi}", "dataset.workers=1",
                 "tracker=none", f"train.run_dir={run}", "train.max_steps=2", "train.batch_size=4",
                 "train.log_every=1", "train.val_every=2", "train.val_batches=1", "train.ckpt_every=2",
                 "train.device=cpu"]
    with initialize_config_module("graph_energy.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    res = train(cfg)
    assert res.status == "completed" and res.step == 2 and all(math.isfinite(v) for v in res.losses)

    ckpt_path = run / "checkpoints" / "last.pt"
    ck = load_checkpoint(ckpt_path)
    assert ck.config["model"]["head"] == {"_target_": "toy_heads.ToyEnergyHead", "_partial_": True, "scale": 0.75}
    head_keys = sorted(k for k in ck.model if k.startswith("head."))
    assert head_keys == ["head.toy_scale"]  # the library's EnergyHead (head.0.weight, ...) was not built
    assert ck.model["head.toy_scale"].item() != 0.75  # and the toy head's own parameter was trained

    # the stored config names a class outside the library: data, not code, until the user allows it
    with pytest.raises(UnsafeTargetError, match=r"toy_heads\.ToyEnergyHead"):
        load_energy_model(ckpt_path)
    gc.allow_targets("toy_heads.ToyEnergyHead")
    model = load_energy_model(ckpt_path).model
    g = random_graph(model.spec, [5, 3], 6, dtype=torch.float32)
    f = model.encode(g)
    expected = model.head.toy_scale * (f.x * f.node_mask[..., None]).square().sum((1, 2)) / model.spec.max_nodes
    torch.testing.assert_close(model(g), expected, rtol=0, atol=0)
