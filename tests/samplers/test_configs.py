"""Sampler configs: presets, round trips through to_config, knob paths, old-format dicts, untrusted targets."""

from pathlib import Path

import pytest
import torch
import yaml
from sampler_toys import MLPEnergy

import graph_energy
from graph_energy.config import UnsafeTargetError, get_path, set_path, to_config
from graph_energy.samplers import (
    Calibration,
    DiscreteLangevinMH,
    GreedyTransport,
    LinearSchedule,
    Phase,
    Sampler,
    build_sampler,
    legacy_sampler_config,
    sample,
)

PRESETS = Path(graph_energy.__file__).parent / "conf" / "sampler"
NAMES = sorted(p.stem for p in PRESETS.glob("*.yaml"))

# conf/sampler/default.yaml as it was before phases (old checkpoints and gem-calibrate files look like this)
OLD_DEFAULT = {
    "_target_": "graph_energy.samplers.Sampler",
    "transport": {"_target_": "graph_energy.samplers.GreedyTransport", "edits_per_step": 2, "max_steps": 100,
                  "adaptive": True},
    "switch": {"_target_": "graph_energy.samplers.EnergySwitch", "energy": True, "on_arrival": True, "margin": 0.0},
    "mixing": {"_target_": "graph_energy.samplers.DiscreteLangevinMH", "num_steps": 200, "beta_prop": 4.0,
               "lambda_x": 3.0, "lambda_e": 2.5,
               "beta_mh": {"_target_": "graph_energy.samplers.LinearSchedule", "start": 0.78, "end": 7.0,
                           "num_steps": 100}},
}
# what the old sampler_to_dict wrote into sampler.yaml files (module paths, every key)
OLD_WRITTEN = {
    "_target_": "graph_energy.samplers.driver.Sampler",
    "transport": {"_target_": "graph_energy.samplers.transport.GreedyTransport", "edits_per_step": 1,
                  "max_steps": 225, "adaptive": True},
    "switch": {"_target_": "graph_energy.samplers.switch.EnergySwitch", "energy": False, "on_arrival": False,
               "margin": 0.0},
    "mixing": {"_target_": "graph_energy.samplers.mixing.DiscreteLangevinMH", "num_steps": 1000, "beta_prop": 2.36,
               "lambda_x": 4.0, "lambda_e": 4.83,
               "beta_mh": {"_target_": "graph_energy.samplers.schedules.LinearSchedule", "start": 0.78,
                           "end": 17.6, "num_steps": 500}},
}


def preset(name: str) -> dict:
    return yaml.safe_load((PRESETS / f"{name}.yaml").read_text())


def test_presets_cover_both_single_phase_kinds():
    assert {"default", "paper", "greedy", "mixing"} <= set(NAMES)
    greedy, mixing = build_sampler(preset("greedy")), build_sampler(preset("mixing"))
    assert greedy.names == ("transport",) and isinstance(greedy.phases[0].kernel, GreedyTransport)
    assert mixing.names == ("mixing",) and isinstance(mixing.phases[0].kernel, DiscreteLangevinMH)


@pytest.mark.parametrize("name", NAMES)
def test_every_preset_round_trips_through_to_config(name):
    s = build_sampler(preset(name), calibration={"quantile": 0.5, "thresholds": {"9": -1.0}})
    for p in s.phases:
        if getattr(p.switch, "uses_calibration", False):
            assert p.switch.calibration.thresholds == {9: -1.0}
    cfg = to_config(s)
    assert "calibration" not in repr(cfg)  # thresholds travel separately from the sampler config
    again = build_sampler(cfg)
    assert to_config(again) == cfg
    assert to_config(build_sampler(yaml.safe_load(yaml.safe_dump(cfg)))) == cfg  # and through YAML
    from hydra.utils import instantiate
    assert isinstance(instantiate(preset(name)), Sampler)


def test_paper_preset_values():
    s = build_sampler(preset("paper"))
    assert s.names == ("transport", "mixing") and s.max_steps == 1225
    assert s.phase("transport").max_steps == 225 and s.phase("mixing").max_steps == 1000
    beta = s.phase("mixing").kernel.beta_mh
    assert beta(torch.tensor([0, 250, 500, 900])).tolist() == pytest.approx([0.78, 9.19, 17.6, 17.6])


def test_knobs_by_config_path():
    cfg = to_config(build_sampler(preset("default")))
    assert get_path(cfg, "phases.mixing.kernel.proposal.beta_prop") == 4.0
    assert get_path(cfg, "phases.transport.kernel.edits_per_step") == 2
    assert get_path(cfg, "phases.1.max_steps") == 200
    set_path(cfg, "phases.mixing.kernel.proposal.beta_prop", 1.5)
    set_path(cfg, "phases.transport.kernel.edits_per_step", 16)
    set_path(cfg, "phases.mixing.kernel.beta_mh", [0.5, 20.0, 10])  # short form: linear schedule
    s = build_sampler(cfg)
    k = s.phase("mixing").kernel
    assert k.proposal.beta_prop == 1.5 and s.phase("transport").kernel.edits_per_step == 16
    assert isinstance(k.beta_mh, LinearSchedule) and (k.beta_mh.start, k.beta_mh.end, k.beta_mh.num_steps) == (0.5, 20.0, 10)
    assert get_path(to_config(s), "phases.mixing.kernel.beta_mh.end") == 20.0  # written back in full
    set_path(cfg, "phases.mixing.kernel.beta_mh", 40.0)  # a number: constant schedule
    assert build_sampler(cfg).phase("mixing").kernel.beta_mh(torch.tensor([0, 99])).tolist() == [40.0, 40.0]


def test_old_format_configs_still_load():
    new = to_config(build_sampler(preset("default")))
    assert to_config(build_sampler(OLD_DEFAULT)) == new
    assert to_config(build_sampler(legacy_sampler_config(OLD_DEFAULT))) == new
    assert to_config(build_sampler(OLD_WRITTEN)) == to_config(build_sampler(preset("paper")))
    # missing keys take the old classes' defaults
    bare = build_sampler({"mixing": {"num_steps": 3}})
    assert bare.phase("transport").max_steps == 225 and bare.phase("mixing").max_steps == 3
    assert bare.phase("mixing").kernel.proposal.lambda_e == 4.83
    with pytest.raises(ValueError, match="unknown transport keys"):
        build_sampler({"transport": {"max_step": 3}})
    with pytest.raises(ValueError, match="phases form"):
        legacy_sampler_config({"mixing": {"_target_": "mypkg.MyKernel"}})


def test_old_format_sampler_gives_the_same_chains():
    model = MLPEnergy(3, 4, seed=0)
    spec = None
    from graph_energy.noise import UniformNoise
    small = {**OLD_DEFAULT, "transport": {**OLD_DEFAULT["transport"], "max_steps": 5},
             "mixing": {**OLD_DEFAULT["mixing"], "num_steps": 4}}
    cal = Calibration(0.5, {4: 0.0})
    runs = [sample(model, spec, torch.tensor([4, 5, 3]), build_sampler(c, cal), torch.Generator().manual_seed(0),
                   noise=UniformNoise(3, 4), dtype=torch.float64) for c in (small, legacy_sampler_config(small))]
    assert torch.equal(runs[0].energy, runs[1].energy) and (runs[0].mixing_steps == 4).all()


def test_phase_and_sampler_checks():
    k = GreedyTransport()
    with pytest.raises(ValueError, match="unique"):
        Sampler([Phase("a", k, 1), Phase("a", k, 1)])
    with pytest.raises(ValueError, match="without dots"):
        Phase("1", k, 3)
    with pytest.raises(TypeError, match="must be a Kernel"):
        Phase("a", {"_target_": "x"}, 3)
    with pytest.raises(TypeError, match="schedule"):
        DiscreteLangevinMH(beta_mh="hot")
    with pytest.raises(KeyError, match="no phase named"):
        build_sampler(preset("paper")).phase("mix")


UNSAFE = {"_target_": "os.system", "command": "echo should-not-run > {marker}"}


def _with_unsafe_kernel(tmp_path) -> dict:
    cfg = to_config(build_sampler(preset("default")))
    set_path(cfg, "phases.mixing.kernel", {k: v.format(marker=tmp_path / "ran") if isinstance(v, str) else v
                                           for k, v in UNSAFE.items()})
    return cfg


def test_unsafe_target_in_a_loaded_config_is_refused(tmp_path):
    cfg = _with_unsafe_kernel(tmp_path)
    with pytest.raises(UnsafeTargetError, match="os.system"):
        build_sampler(cfg)
    switch = to_config(build_sampler(preset("default")))
    set_path(switch, "phases.transport.switch", {"_target_": "os.system", "command": "true"})
    with pytest.raises(UnsafeTargetError, match="os.system"):  # also with a calibration to hand to switches
        build_sampler(switch, calibration={"quantile": 0.5, "thresholds": {"3": 0.0}})
    assert not (tmp_path / "ran").exists()


def test_sample_cli_refuses_unsafe_sampler_file_and_checkpoint_sampler(tmp_path, make_tiny_checkpoint, monkeypatch):
    from graph_energy import api
    from graph_energy.cli.calibrate import store_in_checkpoint
    from graph_energy.cli.sample import main

    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEM_CACHE_DIR", str(tmp_path / "cache"))
    ckpt, _ = make_tiny_checkpoint(tmp_path)
    cfg = _with_unsafe_kernel(tmp_path)
    path = tmp_path / "sampler.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(UnsafeTargetError, match="os.system"):
        from graph_energy.cli.sample import load_sampling_setup
        load_sampling_setup({"ckpt": str(ckpt), "sampler_file": str(path), "auto_calibrate": False})
    assert main([f"ckpt={ckpt}", f"sampler_file={path}", "num_samples=2", "out=null", "metrics=none",
                 "progress=false"]) == 2  # an UnsafeTargetError is a ValueError: one error line, status 2
    store_in_checkpoint(Path(ckpt), {"quantile": 0.5, "thresholds": {"3": 0.0}}, cfg)
    with pytest.raises(UnsafeTargetError, match="os.system"):
        api.load(ckpt).sample(2, sampler="checkpoint")
    assert not (tmp_path / "ran").exists()
