"""Every experiment config composes and instantiates (its objective included); the train-settings
schema; quickstart runs end to end (tiny budget)."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from train_helpers import compose_train, tiny_overrides

from graph_energy.cli.train import train, train_settings
from graph_energy.config import instantiate
from graph_energy.coupling import IndependentCoupling, OTCoupling
from graph_energy.data.spec import MolecularSpec
from graph_energy.noise import MarginalNoise, UniformNoise
from graph_energy.tracking import Tracker
from graph_energy.training import (
    TrainConfig,
    TransportObjective,
    WarmupSchedule,
    bind_objective,
    load_energy_model,
)
from graph_energy.training.contrastive import ContrastiveObjective

EXPERIMENTS = sorted(p.stem for p in (Path(__file__).parents[2] / "graph_energy" / "conf" / "experiment").glob("*.yaml"))
#: Experiments whose objective is not the energy's (transport / contrastive), by objective class name.
OTHER_OBJECTIVES = {"qm9_dfm": "DFMObjective", "qm9_property": "PropertyObjective"}
SPEC = MolecularSpec("toy", ("C", "N", "O", "F", "N+", "O-"), ("none", "single", "double", "triple"), 9)


class _Stats:
    node_marginals = torch.tensor([0.7, 0.1, 0.1, 0.04, 0.03, 0.03])
    edge_marginals = torch.tensor([0.7, 0.2, 0.05, 0.05])


def _objective(cfg: dict):
    noise = instantiate(cfg["noise"], trusted=True, spec=SPEC, stats=_Stats())
    return noise, bind_objective(instantiate(cfg["objective"], trusted=True), spec=SPEC, stats=_Stats(), noise=noise)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("extra", [[], ["noise=marginal", "coupling=independent", "optim=adamw", "tracker=wandb"]])
def test_experiment_composes_and_instantiates(experiment, extra):
    cfg = OmegaConf.to_container(compose_train([f"experiment={experiment}", *extra]), resolve=True)
    assert cfg["dataset"]["_target_"] == "graph_energy.data.load_dataset"
    noise, objective = _objective(cfg)
    assert noise.sample(torch.tensor([3, 5])).validate().batch_size == 2
    if experiment in OTHER_OBJECTIVES:  # not an energy objective: its own tests check it
        assert type(objective).__name__ == OTHER_OBJECTIVES[experiment]
        assert isinstance(train_settings(cfg), TrainConfig)
        return
    # the noise and coupling groups reach the (phase-1) transport objective
    transport = objective.transport if experiment == "qm9_finetune" else objective
    assert isinstance(objective, ContrastiveObjective if experiment == "qm9_finetune" else TransportObjective)
    assert isinstance(transport, TransportObjective) and objective.validation_objective is transport
    assert transport.noise is noise and isinstance(noise, MarginalNoise if extra[:1] == ["noise=marginal"] else UniformNoise)
    assert isinstance(transport.coupling, IndependentCoupling if "coupling=independent" in extra else OTCoupling)
    opt = instantiate(cfg["optim"]["optimizer"], trusted=True)([torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(opt, torch.optim.AdamW)
    assert isinstance(instantiate(cfg["optim"]["schedule"], trusted=True), WarmupSchedule)
    assert isinstance(instantiate(cfg["tracker"], trusted=True), Tracker)
    assert isinstance(train_settings(cfg), TrainConfig)
    if cfg["model"]["n_layers"] <= 4:  # the paper preset is built in the model tests
        from graph_energy.models import build_energy_model

        build_energy_model(cfg["model"], SPEC)


def test_transport_objective_config_gives_the_library_objective():
    """objective=transport builds exactly TransportObjective(noise, coupling, MixturePath(), TransportLoss(...))."""
    from graph_energy.losses import TransportLoss
    from graph_energy.models import build_energy_model

    cfg = OmegaConf.to_container(compose_train(["objective.loss.delta=0.5", "coupling=independent"]), resolve=True)
    noise, objective = _objective(cfg)
    assert objective.loss.delta == 0.5 and objective.loss.grad_clamp == 10.0
    torch.manual_seed(0)
    model = build_energy_model(OmegaConf.to_container(compose_train(["model=tiny"]).model), SPEC)
    x_1 = noise.sample(torch.tensor([4, 6, 5]), torch.Generator().manual_seed(1))
    ref = TransportObjective(noise, IndependentCoupling(), loss=TransportLoss(delta=0.5))
    a = objective(model, x_1, torch.Generator().manual_seed(2))
    b = ref(model, x_1, torch.Generator().manual_seed(2))
    assert float(a.loss.detach()) == float(b.loss.detach()) > 0


@pytest.mark.parametrize("train_over, message", [
    ("train.batch_size=0", r"^train.batch_size must be >= 1, got 0 \(e.g. train.batch_size=64\)$"),
    ("train.max_steps=abc", r"^train.max_steps must be an integer, got 'abc' \(e.g. train.max_steps=2000\)$"),
    ("+train.bacth_size=32", r"^unknown key train.bacth_size \(did you mean train.batch_size\?\)$"),
    ("train.grad_clip=0", r"^train.grad_clip must be > 0, got 0 .*null turns clipping off"),
    ("train.ema_decay=1.5", r"^train.ema_decay must be in \(0, 1\), got 1.5"),
    ("train.val_batch_size=x", r"^train.val_batch_size must be an integer or null, got 'x'"),
    ("train.device=gpu", r"^train.device must be auto, cpu, cuda or cuda:<index>, got 'gpu'$"),
])
def test_bad_train_settings_name_the_key_and_the_fix(train_over, message):
    with pytest.raises(ValueError, match=message):
        train_settings(compose_train([train_over]))


def test_train_settings_schema():
    cfg = compose_train(["experiment=quickstart", "seed=3", "train.max_steps=1e3"])
    s = train_settings(cfg)
    assert (s.seed, s.max_steps, s.batch_size, s.ema_decay, s.grad_clip) == (3, 1000, 32, 0.99, 10.0)
    assert isinstance(s.max_steps, int) and isinstance(s.grad_clip, float)
    # train.yaml documents the schema's defaults, key for key
    defaults = OmegaConf.to_container(compose_train([]).train)
    assert defaults == {k: v for k, v in TrainConfig().__dict__.items() if k != "seed"}
    with pytest.raises(ValueError, match=r"^unknown key train.seed \(the run seed is the top-level seed=...\)$"):
        TrainConfig.from_dict({"seed": 1})
    with pytest.raises(ValueError, match=r"^train.init_from must be set: pass train.init_from=...$"):
        train_settings(compose_train(["train.init_from=???"]))  # a required value left open
    with pytest.raises(ValueError, match="train.log_every must be >= 1"):
        TrainConfig(log_every=0)  # validated on construction, not only from configs
    with pytest.raises(ValueError, match=r"^seed must be an integer, got 'x'"):
        train_settings(compose_train(["seed=x"]))


def test_gem_train_reports_bad_settings_in_one_line(tmp_path, monkeypatch, capsys):
    import subprocess
    import sys

    from graph_energy.cli.train import main

    # a misspelt key is caught before Hydra composes (Hydra's own message has no suggestion)
    monkeypatch.setattr(sys, "argv", ["gem-train", "experiment=quickstart", "train.bacth_size=32"])
    assert main() == 2
    assert capsys.readouterr().err == "gem-train: error: unknown key train.bacth_size (did you mean train.batch_size?)\n"
    # a bad value: the composed run stops before any work, with the same one-line frame
    proc = subprocess.run([sys.executable, "-m", "graph_energy.cli.train", "train.batch_size=0",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == ("gem-train: error: train.batch_size must be >= 1, got 0 "
                                                    "(e.g. train.batch_size=64)"), proc.stderr


def test_quickstart_end_to_end_tiny_budget(smiles_file, tmp_path):
    run = tmp_path / "qs"
    # model=tiny keeps the default suite fast; the QM9 test below runs the real preset
    cfg = compose_train(["experiment=quickstart", "dataset=smiles", f"dataset.source.path={smiles_file}", "model=tiny",
                         "dataset.workers=1", f"train.run_dir={run}", "train.max_steps=4", "train.batch_size=4",
                         "train.log_every=2", "train.val_every=2", "train.ckpt_every=2", "train.device=cpu",
                         "tracker.trackers.0.progress_bar=false"])
    res = train(cfg)
    assert res.status == "completed" and res.step == 4 and res.graphs_per_s > 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and "val/loss" in rows[0] and len(rows) == 3
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    assert (run / "config.yaml").is_file()
    loaded = load_energy_model(run / "checkpoints" / "last.pt")
    assert not loaded.model.training and loaded.spec.num_atom_types >= 3 and loaded.stats.num_graphs > 0
    from graph_energy.noise import UniformNoise

    g = UniformNoise(loaded.spec.num_atom_types, loaded.spec.num_bond_types).sample(torch.tensor([4, 5]))
    assert loaded.model(g).shape == (2,)


@pytest.mark.dataset
@pytest.mark.slow
def test_quickstart_on_qm9(tmp_path):
    if importlib.util.find_spec("qm9pack") is None:  # located, never imported (it needs pkg_resources)
        pytest.skip("qm9pack is not installed")
    cfg = compose_train(["experiment=quickstart", f"train.run_dir={tmp_path}", "train.max_steps=6",
                         "train.val_every=3", "train.ckpt_every=3"])
    res = train(cfg)
    assert res.status == "completed" and all(map(torch.isfinite, torch.tensor(res.losses)))


def test_relative_run_dir_is_made_absolute_and_missing_run_dir_is_an_error(smiles_file, tmp_path, monkeypatch):
    from graph_energy.cli.train import resolve_run_dir

    monkeypatch.chdir(tmp_path)
    cfg = compose_train(tiny_overrides(smiles_file, "rel/run"))
    assert resolve_run_dir(cfg) == tmp_path / "rel" / "run"
    cfg.train.run_dir = None
    with pytest.raises(ValueError, match="train.run_dir"):
        resolve_run_dir(cfg)
