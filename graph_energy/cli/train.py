"""``gem-train``: compose the config, build the parts, run :class:`~graph_energy.training.Trainer`.

``train(cfg)`` is plain and testable (pass ``train.run_dir`` when calling it outside the command);
``main()`` is the Hydra entry point. Works under ``torchrun`` (one process per device).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from graph_energy.training import (
    TrainConfig,
    Trainer,
    TrainResult,
    TransportObjective,
    cleanup_distributed,
    setup_distributed,
)
from graph_energy.training.distributed import DistInfo

__all__ = ["train", "resolve_run_dir", "build_parts", "main"]

log = logging.getLogger("graph_energy.train")


def resolve_run_dir(cfg: DictConfig) -> Path:
    """``train.run_dir`` made absolute, else the Hydra run directory."""
    if cfg.train.get("run_dir"):
        return Path(str(cfg.train.run_dir)).expanduser().absolute()
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir).absolute()
    raise ValueError("train.run_dir is not set; pass train.run_dir=/some/dir when calling train() outside gem-train")


def _load_data(cfg: DictConfig, dist_info: DistInfo):
    """Rank 0 prepares the dataset cache first; the others then read it."""
    if dist_info.enabled and not dist_info.is_main:
        torch.distributed.barrier()
    data = instantiate(cfg.dataset)
    if dist_info.enabled and dist_info.is_main:
        torch.distributed.barrier()
    return data


def build_parts(cfg: DictConfig, data) -> dict:
    """Model, objective, optimizer factory and schedule from the config and the dataset bundle."""
    from graph_energy.models import build_energy_model

    model = build_energy_model(OmegaConf.to_container(cfg.model, resolve=True), data.spec)
    noise = instantiate(cfg.noise, _partial_=True)(spec=data.spec, stats=data.stats)
    objective = TransportObjective(noise=noise, coupling=instantiate(cfg.coupling), loss=instantiate(cfg.loss))
    if cfg.get("finetune"):  # phase 2: the transport objective inside the contrastive one
        objective = instantiate(cfg.finetune)(transport=objective, noise=noise, spec=data.spec)
    return {"model": model, "objective": objective, "optimizer_factory": instantiate(cfg.optim.optimizer),
            "schedule": instantiate(cfg.optim.schedule)}


def _take_model_config(cfg: DictConfig, path: Path) -> None:
    """``train.init_from``: the network must be the checkpoint's, whatever ``model=`` says."""
    from graph_energy.training import load_checkpoint

    model_cfg = load_checkpoint(path).config.get("model")
    if model_cfg and OmegaConf.to_container(cfg.model, resolve=True) != model_cfg:
        log.info("train.init_from: using the model config stored in %s", path)
        with open_dict(cfg):
            cfg.model = OmegaConf.create(model_cfg)


def _train_config(cfg: DictConfig) -> TrainConfig:
    t = cfg.train
    fields = TrainConfig.__dataclass_fields__
    return TrainConfig(seed=int(cfg.seed), **{k: t[k] for k in fields if k in t and k != "seed"})


def train(cfg: DictConfig) -> TrainResult:
    """Run phase-1 training as configured; returns the :class:`TrainResult` (on every rank)."""
    run_dir = resolve_run_dir(cfg)
    if cfg.train.get("num_threads"):
        torch.set_num_threads(int(cfg.train.num_threads))
    dist_info = setup_distributed(str(cfg.train.get("device", "auto")))
    try:
        seed = int(cfg.seed)
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        data = _load_data(cfg, dist_info)
        init_from = cfg.train.get("init_from")
        if init_from:
            _take_model_config(cfg, Path(str(init_from)).expanduser().absolute())
        parts = build_parts(cfg, data)
        extras = {}
        if init_from:
            from graph_energy.training.warm_start import load_initial_weights

            ck = load_initial_weights(parts["model"], Path(str(init_from)).expanduser().absolute(),
                                      data.spec.to_dict(), map_location=dist_info.device)
            extras = {"init_from": str(ck.path), "init_step": ck.step}
        resolved = OmegaConf.to_container(cfg, resolve=True)
        resolved["train"]["run_dir"] = str(run_dir)
        trainer = Trainer(
            parts["model"], parts["objective"], parts["optimizer_factory"], parts["schedule"],
            data.train, data.val, data.spec.num_atom_types, data.spec.num_bond_types, _train_config(cfg),
            run_dir, tracker=instantiate(cfg.tracker) if dist_info.is_main else None, dist=dist_info,
            checkpoint_meta={"config": resolved, "spec": data.spec.to_dict(), "stats": data.stats.to_dict(),
                             "extras": extras},
        )
        n_params = sum(p.numel() for p in trainer.model.parameters())
        log.info("model: %s parameters; train %d / val %d graphs; global batch %d; %d steps/epoch",
                 f"{n_params:,}", len(data.train), len(data.val), trainer.batches.global_batch,
                 trainer.batches.steps_per_epoch)
        if dist_info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(resolved)))
        resume = cfg.train.get("resume")
        result = trainer.fit(resume_from=Path(str(resume)).expanduser().absolute() if resume else None)
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
    result = train(cfg)
    log.info("%s at step %d in %.1f s (%.1f graphs/s); last checkpoint: %s", result.status, result.step,
             result.wall_time_s, result.graphs_per_s, result.last_checkpoint)


def main() -> None:
    _hydra_main()


if __name__ == "__main__":
    main()
