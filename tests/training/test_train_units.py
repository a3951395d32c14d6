"""Checkpoint safety, schedule and back-off, EMA, deterministic sharded batches."""

import math

import pytest
import torch
from torch_geometric.data import Data

from graph_energy.training import EMA, CheckpointError, TrainingDivergedError, WarmupSchedule, load_checkpoint
from graph_energy.training.checkpoint import (
    capture_rng_state,
    load_state_checked,
    restore_rng_state,
    save_checkpoint,
)
from graph_energy.training.data import ShardedBatches, make_generator


def _payload():
    return {"step": 3, "model": {"w": torch.ones(2)}, "config": {"model": {"n_layers": 1}},
            "spec": {"name": "x"}, "rng": capture_rng_state()}


def test_checkpoint_roundtrip_and_weights_only(tmp_path):
    p = save_checkpoint(tmp_path / "a" / "c.pt", _payload())
    assert p.is_absolute() and not list(p.parent.glob("*.tmp"))
    torch.load(p, weights_only=True)  # only tensors and plain containers
    ck = load_checkpoint(p)
    assert ck.step == 3 and torch.equal(ck.model["w"], torch.ones(2)) and ck.config["model"]["n_layers"] == 1


def test_rng_state_roundtrip():
    import random

    import numpy as np

    st = capture_rng_state()
    a = (torch.rand(3), np.random.rand(), random.random())
    restore_rng_state(st)
    b = (torch.rand(3), np.random.rand(), random.random())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]


def test_bad_checkpoints_give_clear_errors(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", _payload())
    data = good.read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt.*corrupt or truncated"):
        load_checkpoint(trunc)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(junk)
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt is not a graph_energy checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    save_checkpoint(tmp_path / "v9.pt", {**_payload(), "version": 9})
    with pytest.raises(CheckpointError, match="version 9"):
        load_checkpoint(tmp_path / "v9.pt")
    p = _payload()
    del p["spec"]
    save_checkpoint(tmp_path / "nospec.pt", p)
    with pytest.raises(CheckpointError, match=r"lacks required entries \['spec'\]"):
        load_checkpoint(tmp_path / "nospec.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match=r"good.pt.*shape mismatch w: checkpoint \(2,\) vs model \(3,\)"):
        m = torch.nn.Module()
        m.w = torch.nn.Parameter(torch.zeros(3))
        load_state_checked(m, load_checkpoint(good).model, good)


def test_schedule_shapes_and_backoff():
    s = WarmupSchedule(warmup_steps=10, kind="cosine", total_steps=110, min_lr_ratio=0.1, backoff_recover_steps=2,
                       max_consecutive_failures=2)
    assert s.factor(0) == pytest.approx(0.1) and s.factor(9) == pytest.approx(1.0)
    assert s.factor(60) == pytest.approx(0.1 + 0.9 * 0.5) and s.factor(110) == pytest.approx(0.1)
    s.record(False, 50)
    assert s.factor(60) == pytest.approx(0.5 * 0.55)
    state = s.state_dict()
    s2 = WarmupSchedule(warmup_steps=10, kind="cosine", total_steps=110, min_lr_ratio=0.1, backoff_recover_steps=2)
    s2.load_state_dict(state)
    assert s2.factor(60) == s.factor(60)
    s.record(True, 51)
    s.record(True, 52)  # recovered after two good steps
    assert s.factor(60) == pytest.approx(0.55)
    s.record(False, 53)
    s.record(False, 54)
    with pytest.raises(TrainingDivergedError, match="3 consecutive steps"):
        s.record(False, 55)
    c = WarmupSchedule(warmup_steps=0)
    assert all(c.factor(k) == 1.0 for k in (0, 5, 10**6))
    with pytest.raises(ValueError, match="kind"):
        WarmupSchedule(kind="linear")


def test_ema_tracks_average():
    m = torch.nn.Linear(2, 1)
    ema = EMA(m, decay=0.5)
    with torch.no_grad():
        m.weight.fill_(1.0)
    for _ in range(50):
        ema.update(m)
    assert torch.allclose(ema.module.weight, torch.ones_like(m.weight), atol=1e-6)
    assert ema.num_updates == 50 and not any(p.requires_grad for p in ema.module.parameters())


def _toy_dataset(n=40):
    g = make_generator(0)
    out = []
    for _ in range(n):
        k = int(torch.randint(2, 6, (1,), generator=g))
        ei = torch.tensor([[i for i in range(k - 1)] + [i + 1 for i in range(k - 1)],
                           [i + 1 for i in range(k - 1)] + [i for i in range(k - 1)]])
        out.append(Data(x=torch.randint(0, 3, (k,), generator=g), edge_index=ei,
                        edge_attr=torch.ones(2 * (k - 1), dtype=torch.long), num_nodes=k))
    return out


def test_sharded_batches_are_deterministic_and_partition_the_global_batch():
    ds = _toy_dataset()
    one = ShardedBatches(ds, 4, accum_steps=2, world_size=1, rank=0, seed=5, num_node_classes=3, num_edge_classes=2)
    r0 = ShardedBatches(ds, 4, accum_steps=1, world_size=2, rank=0, seed=5, num_node_classes=3, num_edge_classes=2)
    r1 = ShardedBatches(ds, 4, accum_steps=1, world_size=2, rank=1, seed=5, num_node_classes=3, num_edge_classes=2)
    assert one.steps_per_epoch == 5
    for step in (0, 4, 5, 12):
        assert torch.equal(one.indices(step, 0), r0.indices(step, 0))
        assert torch.equal(one.indices(step, 1), r1.indices(step, 0))
    epoch0 = torch.cat([one.indices(s, k) for s in range(5) for k in range(2)])
    assert sorted(epoch0.tolist()) == list(range(40))
    b = one.micro_batch(3, 1).validate()
    assert b.batch_size == 4 and b.max_nodes == int(b.num_nodes.max())
    with pytest.raises(ValueError, match="fewer than one global batch"):
        ShardedBatches(ds, 64)
    assert math.isfinite(float(b.x.sum()))


def test_dataset_fast_path_equals_pyg_collation(smiles_file):
    from graph_energy.data import load_dataset
    from graph_energy.training.data import densify

    data = load_dataset("smiles", path=str(smiles_file), workers=1)

    class PlainView:  # hides the dataset's dense() fast path
        def __init__(self, ds):
            self.ds = ds

        def __len__(self):
            return len(self.ds)

        def __getitem__(self, i):
            return self.ds[i]

    idx = torch.tensor([3, 0, 7, 5, 11])
    dx, de = data.spec.num_atom_types, data.spec.num_bond_types
    for max_nodes in (None, data.spec.max_nodes):
        a = densify(data.train, idx, dx, de, max_nodes).validate()
        b = densify(PlainView(data.train), idx, dx, de, max_nodes).validate()
        assert torch.equal(a.x, b.x) and torch.equal(a.e, b.e) and torch.equal(a.node_mask, b.node_mask)
