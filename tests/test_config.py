"""graph_energy.config: building from _target_ dicts, the allow-list for loaded files, round trips
through to_config, and dotted config paths."""

from __future__ import annotations

import functools

import pytest

from graph_energy import config as gc


class Point(gc.Configurable):
    def __init__(self, x: float, y: float = 2.0, *, tag: str = "p", **extra) -> None:
        self.x, self.y, self.tag, self.extra = x, y, tag, extra


class Pair(gc.Configurable):
    def __init__(self, a: Point, b: Point | None = None) -> None:
        self.a, self.b = a, b


@pytest.fixture
def allow_this_module():
    before = gc.allowed_targets()
    gc.allow_targets(__name__ + ".")
    yield
    gc._ALLOWED.clear()
    gc._ALLOWED.update(before)


def test_loaded_configs_build_only_library_targets():
    ran = []
    with pytest.raises(gc.UnsafeTargetError, match="os.system"):
        gc.instantiate({"_target_": "os.system", "command": "echo should-not-run"})
    with pytest.raises(gc.UnsafeTargetError, match="torch.hub.load"):
        gc.instantiate({"a": [{"_target_": "torch.hub.load", "repo_or_dir": "x", "model": "y"}]})
    # a nested unsafe target is refused before the outer (safe) object is built
    with pytest.raises(gc.UnsafeTargetError, match="builtins.exec"):
        gc.instantiate({"_target_": "graph_energy.samplers.ConstantSchedule",
                        "value": {"_target_": "builtins.exec", "source": "ran.append(1)"}})
    assert ran == []
    # library targets build
    sched = gc.instantiate({"_target_": "graph_energy.samplers.ConstantSchedule", "value": 3.0})
    assert type(sched).__name__ == "ConstantSchedule" and sched.value == 3.0


def test_user_targets_need_trust_or_the_allow_list(allow_this_module):
    cfg = {"_target_": f"{__name__}.Point", "x": 1.5}
    assert gc.instantiate(cfg).x == 1.5
    gc._ALLOWED.clear()
    with pytest.raises(gc.UnsafeTargetError, match="allow_targets"):
        gc.instantiate(cfg)
    assert gc.instantiate(cfg, trusted=True).x == 1.5
    gc.allow_targets(f"{__name__}.Point")
    assert gc.is_allowed(f"{__name__}.Point") and not gc.is_allowed(f"{__name__}.Pair")
    with pytest.raises(ValueError, match="dotted names"):
        gc.allow_targets("")


def test_partial_and_errors():
    part = gc.instantiate({"_target_": "graph_energy.samplers.LinearSchedule", "_partial_": True, "start": 1.0})
    assert isinstance(part, functools.partial)
    assert part(end=2.0, num_steps=4).end == 2.0
    with pytest.raises(ValueError, match="cannot import"):
        gc.instantiate({"_target_": "graph_energy.samplers.NoSuchKernel"})
    with pytest.raises(TypeError, match="check the keys"):
        gc.instantiate({"_target_": "graph_energy.samplers.ConstantSchedule", "valu": 1.0})


def test_to_config_round_trip(allow_this_module):
    obj = Pair(Point(1.0, tag="a", colour="red"), b=Point(x=-3.0, y=0.5))
    cfg = gc.to_config(obj)
    assert cfg == {"_target_": f"{__name__}.Pair",
                   "a": {"_target_": f"{__name__}.Point", "x": 1.0, "y": 2.0, "tag": "a", "colour": "red"},
                   "b": {"_target_": f"{__name__}.Point", "x": -3.0, "y": 0.5, "tag": "p"}}
    again = gc.instantiate(cfg)
    assert gc.to_config(again) == cfg
    assert again.a.extra == {"colour": "red"} and again.b.y == 0.5
    with pytest.raises(TypeError, match="cannot write a set"):
        gc.to_config({"bad": {1, 2}})


def test_paths_address_dicts_lists_and_named_items():
    cfg = {"phases": [{"name": "transport", "kernel": {"k": 1}}, {"name": "mixing", "kernel": {"beta": 2.0}}]}
    assert gc.get_path(cfg, "phases.1.kernel.beta") == 2.0
    assert gc.get_path(cfg, "phases.mixing.kernel.beta") == 2.0
    gc.set_path(cfg, "phases.transport.kernel.k", 4)
    gc.set_path(cfg, "phases.mixing.kernel.new_key", "v")
    assert cfg["phases"][0]["kernel"]["k"] == 4 and cfg["phases"][1]["kernel"]["new_key"] == "v"
    with pytest.raises(KeyError, match="no list item named 'switch'"):
        gc.get_path(cfg, "phases.switch.kernel")
    with pytest.raises(KeyError, match="index 5 out of range"):
        gc.get_path(cfg, "phases.5")
    with pytest.raises(KeyError, match="no key 'kernal'"):
        gc.set_path(cfg, "phases.0.kernal.k", 1)
    with pytest.raises(KeyError, match="bad config path"):
        gc.get_path(cfg, "phases..kernel")


def test_loaded_configs_call_no_library_functions_or_machinery(tmp_path, allow_this_module):
    """A library *function* (one that writes files, or instantiate itself with trusted=True) is not a
    component: a loaded file may not call it, however its name starts."""
    target = tmp_path / "overwritten.pt"
    write = {"_target_": "graph_energy.training.checkpoint.save_checkpoint", "path": str(target), "payload": {}}
    with pytest.raises(gc.UnsafeTargetError, match="not functions"):
        gc.instantiate(write)
    escalate = {"_target_": "graph_energy.config.instantiate", "trusted": True,
                "node": {"_target_": "graph_energy.samplers.ConstantSchedule", "value": 1.0}}
    with pytest.raises(gc.UnsafeTargetError, match="graph_energy.config.instantiate"):
        gc.instantiate(escalate)
    with pytest.raises(gc.UnsafeTargetError, match="graph_energy.cli.sample.main"):
        gc.instantiate({"_target_": "graph_energy.cli.sample.main", "argv": []})
    assert not target.exists()
    # the user's own configs may call functions; an explicitly allowed function may be called from files
    assert gc.instantiate(write, trusted=True) == target and target.is_file()
    assert gc.instantiate({"_target_": "graph_energy.noise.UniformNoise.from_data", "_partial_": True},
                          trusted=True).func.__name__ == "from_data"
    gc.allow_targets("graph_energy.config.to_config")
    assert gc.instantiate({"_target_": "graph_energy.config.to_config", "obj": 3}) == 3
