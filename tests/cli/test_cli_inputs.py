"""Every console script: a bad value names its key (before any work), ``allowed_targets=[...]`` extends the
allow-list for the files the run reads, and a device that is not there says so."""

from __future__ import annotations

import importlib

import pytest
import torch
import yaml

from graph_energy import config as gc
from graph_energy.cli._config import Arg, check_arguments, check_command_arguments, take_allowed_targets
from graph_energy.samplers import GreedyTransport


class MyGreedy(GreedyTransport):
    """A user's kernel class outside the library (what ``allowed_targets`` is for)."""


@pytest.fixture
def fresh_allow_list(monkeypatch):
    monkeypatch.setattr(gc, "_ALLOWED", set())


SCRIPTS = [("data", ["dataset=nope"]), ("evaluate", ["samples=missing.smi"]), ("sample", ["num_samples=abc"]),
           ("calibrate", ["num_graphs=abc"]), ("score", ["batch_size=abc"]), ("interpolate", ["beam_width=abc"])]


@pytest.mark.parametrize("module, argv", SCRIPTS, ids=[m for m, _ in SCRIPTS])
def test_every_console_script_takes_allowed_targets(module, argv, fresh_allow_list, capsys):
    main = importlib.import_module(f"graph_energy.cli.{module}").main
    assert main(["allowed_targets=[mypkg.MyKernel,mypkg.heads.]", *argv]) == 2  # then fails on the bad value
    assert gc.allowed_targets() == {"mypkg.MyKernel", "mypkg.heads."}
    assert capsys.readouterr().err.count("\n") == 1


def test_gem_train_takes_allowed_targets(fresh_allow_list, capsys):
    from graph_energy.cli.train import main

    assert main(["+allowed_targets=mypkg.MyModel", "train.nope=1"]) == 2
    assert "unknown key train.nope" in capsys.readouterr().err
    assert gc.allowed_targets() == {"mypkg.MyModel"}


def test_allowed_targets_values(fresh_allow_list):
    assert take_allowed_targets(["a=1", "allowed_targets=[x.Y]", "++allowed_targets='z.'", "b=2"]) == ["a=1", "b=2"]
    assert gc.allowed_targets() == {"x.Y", "z."}
    for bad in ("allowed_targets=[x.Y", "allowed_targets=[1,2]", "allowed_targets=[.]"):
        with pytest.raises(ValueError, match="allowed_targets"):
            take_allowed_targets([bad])


@pytest.mark.parametrize("module, arg, message", [
    ("sample", "num_samples=abc", "num_samples must be an integer >= 1, got 'abc' (e.g. num_samples=1000)"),
    ("sample", "num_samples=2.5", "num_samples must be an integer >= 1, got 2.5"),
    ("sample", "batch_size=0", "batch_size must be an integer >= 1, got 0"),
    ("sample", "num_samples=null", "num_samples cannot be null"),
    ("sample", "seed=x", "seed must be an integer, got 'x'"),
    ("sample", "num_nodes=[9,3]", "num_nodes must be an integer or a range [lo, hi] >= 1 or null, got [9, 3]"),
    ("sample", "use_ema=maybe", "use_ema must be true or false, got 'maybe' (e.g. use_ema=true)"),
    ("sample", "device=gpu", "device='gpu' is not a device"),
    ("calibrate", "quantile=1.5", "quantile must be a number in [0, 1], got 1.5"),
    ("calibrate", "search.passes=two", "search.passes must be an integer >= 1, got 'two'"),
    ("evaluate", "limit=2.5", "limit must be an integer >= 1 or null, got 2.5"),
    ("score", "top=-1", "top must be an integer >= 0 or null, got -1"),
    ("interpolate", "beam_width=0", "beam_width must be an integer >= 1, got 0"),
])
def test_bad_values_name_the_key(module, arg, message, capsys):
    main = importlib.import_module(f"graph_energy.cli.{module}").main
    extra = {"evaluate": ["samples=x.smi"], "score": ["samples=x.smi"], "interpolate": ["a=CCO", "b=CCN"]}
    assert main([*extra.get(module, []), arg]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"gem-{module}: error: {message}" or err.startswith(f"gem-{module}: error: {message}")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_missing_cuda_device_is_named(capsys, make_tiny_checkpoint, tmp_path, monkeypatch):
    from graph_energy.cli.sample import main

    assert main(["device=cuda", "num_samples=2"]) == 2
    err = capsys.readouterr().err
    assert "device=cuda: CUDA is not available on this machine" in err and "corrupt" not in err
    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    ckpt, _ = make_tiny_checkpoint(tmp_path)
    from graph_energy.training.checkpoint import CheckpointError, load_energy_model

    with pytest.raises(ValueError, match="CUDA is not available") as info:
        load_energy_model(ckpt, map_location="cuda")
    assert not isinstance(info.value, CheckpointError)


def test_typed_checks_convert_in_place():
    cfg = {"n": 3.0, "x": "0.5", "sizes": [2.0, 4], "nested": {"k": "7"}, "flag": None}
    check_arguments(cfg, {"n": Arg("int", 1), "x": Arg("float", 0, 1), "sizes": Arg("sizes", 1),
                          "nested.k": Arg("int"), "flag": Arg("bool", optional=True), "absent": Arg("int")})
    assert cfg == {"n": 3, "x": 0.5, "sizes": [2, 4], "nested": {"k": 7}, "flag": None}
    # inferred from the YAML defaults: grid (int) and progress (bool) of gem-sample
    with pytest.raises(ValueError, match="progress must be true or false, got 2"):
        check_command_arguments("sample", {"progress": 2})
    assert check_command_arguments("sample", {"grid": 10.0})["grid"] == 10


def test_allowed_targets_on_the_command_line_let_a_sampler_file_build_a_user_class(
        tmp_path, make_tiny_checkpoint, monkeypatch, fresh_allow_list, capsys):
    from graph_energy.api import _SAMPLER_CONFS
    from graph_energy.cli.sample import main
    from graph_energy.config import set_path, to_config
    from graph_energy.samplers import build_sampler

    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    ckpt, _ = make_tiny_checkpoint(tmp_path)
    cfg = to_config(build_sampler(yaml.safe_load((_SAMPLER_CONFS / "default.yaml").read_text())))
    set_path(cfg, "phases.transport.kernel", to_config(MyGreedy(edits_per_step=2)))
    set_path(cfg, "phases.transport.max_steps", 3)
    set_path(cfg, "phases.mixing.max_steps", 2)
    path = tmp_path / "sampler.yaml"
    path.write_text(yaml.safe_dump(cfg))
    args = [f"ckpt={ckpt}", f"sampler_file={path}", "num_samples=2", "out=null", "metrics=none", "progress=false",
            "auto_calibrate=false", "num_threads=1"]
    assert main(args) == 2
    assert f"refusing to build _target_ '{__name__}.MyGreedy'" in capsys.readouterr().err
    assert main([*args, f"allowed_targets=[{__name__}.MyGreedy]"]) == 0
    assert '"num_samples": 2' in capsys.readouterr().out
