import sys

import pytest
import torch
from hydra import compose, initialize_config_module
from model_helpers import random_graph
from omegaconf import OmegaConf

from graph_energy.config import UnsafeTargetError
from graph_energy.models import (
    EnergyHead,
    GraphNetwork,
    GraphTransformerEnergy,
    RegressionHead,
    build_energy_model,
)
from graph_energy.training.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, load_energy_model

PRESETS = ["tiny", "small", "base", "paper"]
_SHARED = dict(rw_pairs=False, cycles=True, valency=True, dropout=0.0, compile=False, autocast=None, allow_tf32=False,
               checkpoint_layers=False)
# the resolved presets before they shared conf/model/_base.yaml (what every existing checkpoint stores)
FLAT_PRESETS = {
    "tiny": dict(n_layers=2, hidden_x=16, hidden_e=8, hidden_y=8, n_heads=2, ff_x=32, ff_e=16, ff_y=16, rw_steps=3),
    "small": dict(n_layers=4, hidden_x=96, hidden_e=32, hidden_y=48, n_heads=4, ff_x=192, ff_e=64, ff_y=96, rw_steps=6),
    "base": dict(n_layers=8, hidden_x=192, hidden_e=48, hidden_y=96, n_heads=8, ff_x=384, ff_e=96, ff_y=192,
                 rw_steps=8),
    "paper": dict(n_layers=12, hidden_x=256, hidden_e=64, hidden_y=128, n_heads=8, ff_x=512, ff_e=128, ff_y=256,
                  rw_steps=8),
}
ENERGY_HEAD = {"_target_": "graph_energy.models.heads.EnergyHead", "_partial_": True}


def compose_model(*overrides: str) -> dict:
    with initialize_config_module("graph_energy.conf", version_base="1.3"):
        return OmegaConf.to_container(compose("train", overrides=list(overrides)).model, resolve=True)


def preset(name: str) -> dict:
    return compose_model(f"model={name}")


@pytest.mark.parametrize("name", PRESETS)
def test_presets_compose_to_the_flat_values(name):
    cfg = preset(name)
    assert cfg.pop("head") == ENERGY_HEAD
    assert cfg == {"_target_": "graph_energy.models.GraphTransformerEnergy", **FLAT_PRESETS[name], **_SHARED}


def test_preset_keys_stay_overridable():
    cfg = compose_model("model=base", "model.n_layers=3", "model.head._target_=graph_energy.models.RegressionHead",
                        "+model.head.num_targets=2")
    assert cfg["n_layers"] == 3 and cfg["hidden_x"] == 192
    assert cfg["head"] == {"_target_": "graph_energy.models.RegressionHead", "_partial_": True, "num_targets": 2}
    assert compose_model("experiment=zinc250k")["n_layers"] == 12


@pytest.mark.parametrize("name", PRESETS)
def test_presets_build(name, spec):
    model = build_energy_model(preset(name), spec)
    assert isinstance(model, GraphTransformerEnergy) and isinstance(model.head, EnergyHead)
    assert model.layers[0].drop.__class__.__name__ == "Identity"  # dropout 0 by default


@pytest.mark.parametrize("key", sorted(set(FLAT_PRESETS["tiny"]) - {"n_heads"}) + ["rw_pairs", "cycles", "valency"])
def test_every_architecture_key_changes_the_network(key, spec):
    """No preset key is silently ignored: changing it changes the parameter shapes."""
    cfg = preset("tiny")
    changed = {**cfg, key: (not cfg[key]) if isinstance(cfg[key], bool) else cfg[key] * 2}
    shapes = [{k: tuple(v.shape) for k, v in build_energy_model(c, spec).state_dict().items()} for c in (cfg, changed)]
    assert shapes[0] != shapes[1]


def test_n_heads_changes_the_attention(spec):
    """``n_heads`` has no parameters of its own: the same weights give other energies."""
    torch.manual_seed(0)
    a = build_energy_model(preset("tiny"), spec).double()
    b = build_energy_model({**preset("tiny"), "n_heads": 4}, spec).double()
    b.load_state_dict(a.state_dict())
    g = random_graph(spec, [5, 9], 9)
    assert (a(g) - b(g)).abs().min() > 1e-6


def test_execution_keys_reach_the_network(spec):
    cfg = {**preset("tiny"), "dropout": 0.1, "compile": True, "autocast": "bf16", "allow_tf32": True,
           "checkpoint_layers": True}
    m = build_energy_model(cfg, spec)
    assert m.layers[0].drop.p == 0.1 and m.compile and m.autocast_dtype == torch.bfloat16
    assert m.allow_tf32 and m.checkpoint_layers


def test_tiny_preset_runs(spec):
    model = build_energy_model(preset("tiny"), spec)
    out = model(random_graph(spec, [5, 9], 9, dtype=torch.float32))
    assert out.shape == (2,)


def test_plain_kwargs_and_bad_configs(spec):
    cfg = {k: v for k, v in preset("tiny").items() if k not in ("_target_", "head")}
    assert isinstance(build_energy_model(cfg, spec), GraphTransformerEnergy)  # a stored config of old
    old_path = {**cfg, "_target_": "graph_energy.models.transformer.GraphTransformerEnergy"}  # its former module
    assert isinstance(build_energy_model(old_path, spec), GraphTransformerEnergy)
    assert isinstance(build_energy_model({**cfg, "head": {"_target_": "graph_energy.models.EnergyHead"}}, spec).head,
                      EnergyHead)  # _partial_ implied for the head
    with pytest.raises(ValueError, match="bad model config"):
        build_energy_model({**cfg, "n_layerz": 3}, spec)
    with pytest.raises(ValueError, match="RegressionHead.*num_targetz"):
        build_energy_model({**cfg, "head": {"_target_": "graph_energy.models.RegressionHead", "num_targetz": 3}}, spec)
    with pytest.raises(ValueError, match="_target_"):
        build_energy_model({**cfg, "_target_": "graph_energy.models.NoSuchModel"}, spec)
    with pytest.raises(ValueError, match="spec"):
        build_energy_model({**cfg, "spec": "qm9"}, spec)
    with pytest.raises(TypeError):
        build_energy_model(["tiny"], spec)


def test_composed_network_from_config_untrusted(spec):
    cfg = {"_target_": "graph_energy.models.GraphNetwork",
           "backbone": {"_target_": "graph_energy.models.GraphTransformerBackbone", **FLAT_PRESETS["tiny"]},
           "head": {"_target_": "graph_energy.models.heads.RegressionHead", "num_targets": 3}}
    model = build_energy_model(cfg, spec, trusted=False)
    assert isinstance(model, GraphNetwork) and isinstance(model.head, RegressionHead)
    assert model(random_graph(spec, [5, 9], 9, dtype=torch.float32)).shape == (2, 3)


UNSAFE = [
    ({"_target_": "torch.hub.load", "repo_or_dir": "someone/something", "model": "x"}, "torch.hub.load"),
    ({"_target_": "os.system", "command": "touch {marker}"}, "os.system"),
    ({**FLAT_PRESETS["tiny"], "head": {"_target_": "os.system", "_partial_": True, "command": "touch {marker}"}},
     "os.system"),
    ({"_target_": "this.s"}, "this.s"),  # importing `this` prints: nothing may be imported either
]


@pytest.mark.parametrize("model_cfg, target", UNSAFE, ids=["torch.hub", "os.system", "nested head", "import"])
def test_stored_foreign_targets_are_refused_before_anything_runs(model_cfg, target, tmp_path, spec, capsys):
    marker = tmp_path / "marker"
    model_cfg = {k: (v.format(marker=marker) if isinstance(v, str) else v) for k, v in model_cfg.items()}
    if isinstance(model_cfg.get("head"), dict):
        model_cfg["head"] = {**model_cfg["head"], "command": f"touch {marker}"}
    had_this = "this" in sys.modules
    path = tmp_path / "crafted.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "step": 0, "model": {},
                "config": {"model": model_cfg}, "spec": spec.to_dict()}, path)
    import graph_energy as ge

    for load in (load_energy_model, ge.load):
        with pytest.raises(UnsafeTargetError, match=target.replace(".", r"\.")) as err:
            load(path)
        assert str(path) in str(err.value)
    with pytest.raises(UnsafeTargetError):
        build_energy_model(model_cfg, spec)  # untrusted by default
    assert not marker.exists() and capsys.readouterr().out == ""
    assert had_this or "this" not in sys.modules


def test_allowed_foreign_head_loads_from_a_checkpoint(tmp_path, spec, monkeypatch):
    import graph_energy.config as gc

    monkeypatch.setattr(gc, "_ALLOWED", set())
    cfg = {"_target_": "graph_energy.models.GraphTransformerEnergy", **FLAT_PRESETS["tiny"],
           "head": {"_target_": "toy_heads.ToyEnergyHead", "_partial_": True, "scale": 3.0}}
    model = build_energy_model(cfg, spec, trusted=True)
    path = tmp_path / "toy.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "step": 0, "model": model.state_dict(),
                "config": {"model": cfg}, "spec": spec.to_dict()}, path)
    with pytest.raises(UnsafeTargetError, match=r"toy_heads\.ToyEnergyHead.*allow_targets"):
        load_energy_model(path)
    gc.allow_targets("toy_heads.")
    loaded = load_energy_model(path).model
    g = random_graph(spec, [5, 9], 9, dtype=torch.float32)
    assert type(loaded.head).__name__ == "ToyEnergyHead" and loaded.head.toy_scale.item() == 3.0
    torch.testing.assert_close(loaded(g), model.eval()(g), rtol=0, atol=0)
