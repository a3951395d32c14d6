"""``gem-train``: compose the config, build the parts, run :class:`~graph_energy.training.Trainer`.

``train(cfg)`` is plain and testable (pass ``train.run_dir`` when calling it outside the command);
``main()`` is the Hydra entry point. Works under ``torchrun`` (one process per device).

What is trained is ``cfg.objective`` (the ``objective`` group: ``transport`` for phase 1,
``contrastive`` for phase 2), an :class:`~graph_energy.training.Objective` built by its
``_target_``; the run-time pieces it may need (``spec``, ``stats``, ``noise``) are passed by
:func:`~graph_energy.training.bind_objective`.
"""

from __future__ import annotations

import logging
import random
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from graph_energy.config import instantiate
from graph_energy.training import (
    Objective,
    TrainConfig,
    Trainer,
    TrainResult,
    WarmupSchedule,
    bind_objective,
    cleanup_distributed,
    setup_distributed,
)
from graph_energy.training.distributed import DistInfo

__all__ = ["train", "train_settings", "resolve_run_dir", "TrainParts", "build_parts", "main"]

log = logging.getLogger("graph_energy.train")


def _plain(cfg: Mapping) -> dict:
    """A resolved, plain-dict copy of a composed config (``DictConfig`` or mapping); a value left
    ``???`` (required, not given) is a one-line error naming its key."""
    cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ValueError(f"{missing[0]} must be set: pass {missing[0]}=...")
    return OmegaConf.to_container(cfg, resolve=True)


def train_settings(cfg: Mapping) -> TrainConfig:
    """The validated ``train:`` node (and the run ``seed``); bad keys or values raise a ``ValueError``."""
    cfg = _plain(cfg)
    return TrainConfig.from_dict(cfg.get("train") or {}, seed=cfg.get("seed", 0))


def resolve_run_dir(cfg: Mapping) -> Path:
    """``train.run_dir`` made absolute, else the Hydra run directory."""
    run_dir = cfg["train"].get("run_dir")
    if run_dir:
        return Path(str(run_dir)).expanduser().absolute()
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir).absolute()
    raise ValueError("train.run_dir is not set; pass train.run_dir=/some/dir when calling train() outside gem-train")


def _load_data(cfg: dict, dist_info: DistInfo):
    """Rank 0 prepares the dataset cache first; the others then read it."""
    if dist_info.enabled and not dist_info.is_main:
        torch.distributed.barrier()
    data = instantiate(cfg["dataset"], trusted=True)
    if dist_info.enabled and dist_info.is_main:
        torch.distributed.barrier()
    return data


@dataclass
class TrainParts:
    """What :func:`build_parts` makes from the config and the dataset bundle."""

    model: torch.nn.Module
    objective: Objective
    optimizer_factory: Any
    schedule: WarmupSchedule


def build_parts(cfg: Mapping, data) -> TrainParts:
    """Model, objective, optimizer factory and schedule from the config and the dataset bundle."""
    from graph_energy.models import build_energy_model

    cfg = _plain(cfg)
    # the composed config is the user's own, but with train.init_from the model config is the checkpoint's (data)
    trusted = not (cfg.get("train") or {}).get("init_from")
    model = build_energy_model(cfg["model"], data.spec, trusted=trusted)  # first: it draws the initial weights
    noise = instantiate(cfg["noise"], trusted=True, spec=data.spec, stats=data.stats)
    objective = bind_objective(instantiate(cfg["objective"], trusted=True),
                               spec=data.spec, stats=data.stats, noise=noise)
    return TrainParts(model, objective, instantiate(cfg["optim"]["optimizer"], trusted=True),
                      instantiate(cfg["optim"]["schedule"], trusted=True))


def _take_model_config(cfg: dict, path: Path) -> None:
    """``train.init_from``: the network must be the checkpoint's, whatever ``model=`` says."""
    from graph_energy.training import load_checkpoint

    model_cfg = load_checkpoint(path).config.get("model")
    if model_cfg and cfg["model"] != model_cfg:
        log.info("train.init_from: using the model config stored in %s", path)
        cfg["model"] = model_cfg


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _absolute(path: str | None) -> Path | None:
    return Path(path).expanduser().absolute() if path else None


def train(cfg: Mapping) -> TrainResult:
    """Run the configured training (phase 1 or 2, as ``cfg.objective`` says); returns the
    :class:`TrainResult` (on every rank). ``cfg`` is a composed ``gem-train`` config."""
    cfg = _plain(cfg)
    settings = train_settings(cfg)  # bad settings fail before any work
    run_dir = resolve_run_dir(cfg)
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    dist_info = setup_distributed(settings.device)
    try:
        _seed_everything(settings.seed)
        data = _load_data(cfg, dist_info)
        init_from = _absolute(settings.init_from)
        if init_from:
            _take_model_config(cfg, init_from)
        parts = build_parts(cfg, data)
        extras = {}
        if init_from:
            from graph_energy.training.warm_start import load_initial_weights

            ck = load_initial_weights(parts.model, init_from, data.spec.to_dict(), map_location=dist_info.device)
            extras = {"init_from": str(ck.path), "init_step": ck.step}
        cfg["train"]["run_dir"] = str(run_dir)
        trainer = Trainer(
            parts.model, parts.objective, parts.optimizer_factory, parts.schedule,
            data.train, data.val, data.spec.num_atom_types, data.spec.num_bond_types, settings,
            run_dir, tracker=instantiate(cfg["tracker"], trusted=True) if dist_info.is_main else None,
            dist=dist_info, checkpoint_meta={"config": cfg, "spec": data.spec.to_dict(),
                                             "stats": data.stats.to_dict(), "extras": extras},
        )
        n_params = sum(p.numel() for p in trainer.model.parameters())
        log.info("model: %s parameters; train %d / val %d graphs; global batch %d; %d steps/epoch",
                 f"{n_params:,}", len(data.train), len(data.val), trainer.batches.global_batch,
                 trainer.batches.steps_per_epoch)
        if dist_info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
        result = trainer.fit(resume_from=_absolute(settings.resume))
        if dist_info.enabled:
            # every rank leaves its last collective before any rank destroys the group: a gloo peer torn
            # down mid-exchange aborts the other process ("terminate called without an active exception")
            torch.distributed.barrier()
        return result
    finally:
        cleanup_distributed(dist_info)


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    logging.getLogger("graph_energy").setLevel(str(cfg.get("log_level", "INFO")))
    try:
        result = train(cfg)
    except ValueError as err:  # bad input: one line, like the other console scripts
        print(f"gem-train: error: {err}", file=sys.stderr)
        sys.exit(2)
    log.info("%s at step %d in %.1f s (%.1f graphs/s); last checkpoint: %s", result.status, result.step,
             result.wall_time_s, result.graphs_per_s, result.last_checkpoint)


def _check_train_keys(argv: list[str]) -> None:
    """Misspelt ``train.<key>=...`` overrides: our one-line error with the closest key, not Hydra's."""
    keys = [m.group(1) for a in argv if (m := re.match(r"train\.(\w+)=", a))]
    TrainConfig.check_keys(keys)


def main() -> None:
    try:
        _check_train_keys(sys.argv[1:])
    except ValueError as err:
        print(f"gem-train: error: {err}", file=sys.stderr)
        sys.exit(2)
    _hydra_main()


if __name__ == "__main__":
    main()
