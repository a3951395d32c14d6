"""Every experiment config composes and instantiates; quickstart runs end to end (tiny budget)."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from train_helpers import compose_train, tiny_overrides

from graph_energy.cli.train import _train_config, train
from graph_energy.data.spec import MolecularSpec
from graph_energy.tracking import Tracker
from graph_energy.training import TrainConfig, WarmupSchedule, load_energy_model

EXPERIMENTS = sorted(p.stem for p in (Path(__file__).parents[2] / "graph_energy" / "conf" / "experiment").glob("*.yaml"))


class _Stats:
    node_marginals = torch.tensor([0.7, 0.1, 0.1, 0.04, 0.03, 0.03])
    edge_marginals = torch.tensor([0.7, 0.2, 0.05, 0.05])


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("extra", [[], ["noise=marginal", "coupling=independent", "optim=adamw", "tracker=wandb"]])
def test_experiment_composes_and_instantiates(experiment, extra):
    cfg = compose_train([f"experiment={experiment}", *extra])
    assert cfg.dataset._target_ == "graph_energy.data.load_dataset"
    spec = MolecularSpec("toy", ("C", "N", "O", "F", "N+", "O-"), ("none", "single", "double", "triple"), 9)
    noise = instantiate(cfg.noise, _partial_=True)(spec=spec, stats=_Stats())
    assert noise.sample(torch.tensor([3, 5])).validate().batch_size == 2
    instantiate(cfg.coupling)
    instantiate(cfg.loss)
    opt = instantiate(cfg.optim.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(opt, torch.optim.AdamW)
    assert isinstance(instantiate(cfg.optim.schedule), WarmupSchedule)
    assert isinstance(instantiate(cfg.tracker), Tracker)
    assert isinstance(_train_config(cfg), TrainConfig)
    OmegaConf.to_container(cfg, resolve=True)
    if cfg.model.n_layers <= 4:  # the paper preset is built in the model tests
        from graph_energy.models import build_energy_model

        build_energy_model(OmegaConf.to_container(cfg.model), spec)


def test_quickstart_end_to_end_tiny_budget(smiles_file, tmp_path):
    run = tmp_path / "qs"
    # model=tiny keeps the default suite fast; the QM9 test below runs the real preset
    cfg = compose_train(["experiment=quickstart", "dataset=smiles", f"dataset.path={smiles_file}", "model=tiny",
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
