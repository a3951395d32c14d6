"""``gem-train``: compose the config, build the parts, run :class:`~graph_energy.training.Trainer`.

    gem-train experiment=quickstart                                  # ~1 minute on 2 CPU cores
    gem-train experiment=qm9 train.resume=<run>/checkpoints/last.pt  # continues in <run> (same metrics files)
    gem-train experiment=qm9_finetune train.init_from=<phase-1 run>/checkpoints/last.pt

``train(cfg)`` is plain and testable (pass ``train.run_dir`` when calling it outside the command);
``main()`` composes the config (:func:`prepare_config` checks it before any data is loaded or any
directory is made), runs it and prints one JSON line; bad input is one ``gem-train: error:`` line and
exit status 2. The run writes ``config.yaml``, ``metrics.csv``/``.jsonl``, ``train.log``,
``checkpoints/`` and, at the end, ``loss.png``/``metrics.png`` (``gem-plot run=<run dir>`` redraws
them). Works under ``torchrun`` (one process per device); Hydra's own flags (``--multirun``) still run
through Hydra.

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
        if settings.resume:
            # a checkpoint of another model size or vocabulary is refused here, before the run's
            # config.yaml (perhaps the resumed run's own) is written
            trainer.resume(_absolute(settings.resume))
        if dist_info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
        result = trainer.fit()
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
    from graph_energy.training import TrainingDivergedError

    try:
        result = train(cfg)
    except ValueError as err:  # bad input: one line, like the other console scripts
        print(f"gem-train: error: {err}", file=sys.stderr)
        sys.exit(2)
    except TrainingDivergedError as err:  # says which checkpoint to resume from
        print(f"gem-train: error: {err}", file=sys.stderr)
        sys.exit(1)
    log.info("%s at step %d in %.1f s (%.1f graphs/s); last checkpoint: %s", result.status, result.step,
             result.wall_time_s, result.graphs_per_s, result.last_checkpoint)


def _check_train_keys(argv: list[str]) -> None:
    """Misspelt ``train.<key>=...`` overrides: our one-line error with the closest key, not Hydra's."""
    keys = [m.group(1) for a in argv if (m := re.match(r"train\.(\w+)=", a))]
    TrainConfig.check_keys(keys)


_HYDRA_RUN_DIR = re.compile(r"^\+{0,2}hydra\.run\.dir=(.*)$")


def _default_run_dir() -> Path:
    """``$GEM_RUNS_DIR/train/<date>_<time>`` (``runs/`` by default), as Hydra named run directories."""
    import os
    import time

    base = Path(os.environ.get("GEM_RUNS_DIR") or "runs") / "train"
    path = base / time.strftime("%Y-%m-%d_%H-%M-%S")
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:  # torchrun ranks must agree on the name: no suffix there
        k = 1
        while path.exists():
            path, k = base / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{k}", k + 1
    return path


def _resumed_run_dir(resume: Path) -> Path | None:
    """The run directory a checkpoint belongs to (``<run>/checkpoints/<file>.pt``), else ``None``."""
    return resume.parent.parent if resume.parent.name == "checkpoints" else None


def _is_contrastive(objective) -> bool:
    target = str((objective or {}).get("_target_", "")) if isinstance(objective, Mapping) else ""
    return "contrastive" in target.rsplit(".", 1)[-1].lower()


def prepare_config(argv: list[str]) -> dict:
    """The composed, validated ``gem-train`` config of command-line ``argv``, with ``train.run_dir`` set.

    Everything that can be checked without data is checked here, before any file is written: the
    overrides and config groups, the ``train:`` settings, required values, that ``train.resume`` /
    ``train.init_from`` exist, and that a contrastive (phase-2) objective has weights to start from.
    The run directory is ``train.run_dir``, else ``hydra.run.dir=...`` (accepted as before), else the
    run directory of the ``train.resume`` checkpoint (a resumed run continues its own metrics
    files), else ``$GEM_RUNS_DIR/train/<date>_<time>``.
    """
    from graph_energy.cli._config import compose_config, take_allowed_targets

    argv = take_allowed_targets(list(argv))  # allowed_targets=[...] is not part of the run's config
    _check_train_keys(argv)
    hydra_dir = None
    rest = []
    for arg in argv:
        m = _HYDRA_RUN_DIR.match(arg)
        if m:
            hydra_dir = m.group(1)
        elif arg.lstrip("+").startswith("hydra."):
            log.info("ignoring %s (gem-train composes without Hydra's run machinery)", arg)
        else:
            rest.append(arg)
    cfg = compose_config("train", rest, {"experiment": "experiments: quickstart, qm9, qm9_finetune, moses, zinc250k"})
    settings = train_settings(cfg)
    for key in ("resume", "init_from"):
        value = getattr(settings, key)
        if value and not Path(value).expanduser().is_file():
            raise ValueError(f"train.{key}={value} does not exist; pass a checkpoint file "
                             "(e.g. <run>/checkpoints/last.pt)")
    if _is_contrastive(cfg.get("objective")) and not settings.init_from and not settings.resume:
        raise ValueError("objective=contrastive (phase 2, e.g. experiment=qm9_finetune) fine-tunes trained weights: "
                         "pass train.init_from=<phase-1 run>/checkpoints/last.pt")
    run_dir = cfg["train"].get("run_dir") or hydra_dir
    if not run_dir and settings.resume:
        run_dir = _resumed_run_dir(Path(settings.resume).expanduser().absolute())
    cfg["train"]["run_dir"] = str(Path(str(run_dir or _default_run_dir())).expanduser().absolute())
    return cfg


class _RunLog(logging.FileHandler):
    """``<run_dir>/train.log``: records are kept in memory until the run directory exists."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, mode="a", delay=True)
        self._pending: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not Path(self.baseFilename).parent.is_dir():
            self._pending.append(record)
            return
        for old in self._pending:
            super().emit(old)
        self._pending = []
        super().emit(record)


def _train_body(cfg: dict) -> str:
    import json

    from graph_energy.cli._config import json_safe

    handler = _RunLog(Path(cfg["train"]["run_dir"]) / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        result = train(cfg)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    log.info("%s at step %d in %.1f s (%.1f graphs/s); last checkpoint: %s", result.status, result.step,
             result.wall_time_s, result.graphs_per_s, result.last_checkpoint)
    return json.dumps(json_safe({"status": result.status, "step": result.step, "run_dir": str(result.run_dir),
                                 "last_checkpoint": str(result.last_checkpoint) if result.last_checkpoint else None,
                                 "wall_time_s": round(result.wall_time_s, 2),
                                 "graphs_per_s": round(result.graphs_per_s, 2)}))


def main(argv: list[str] | None = None) -> int:
    """``gem-train key=value ...``: one JSON line on stdout; bad input is one ``gem-train: error:`` line and
    exit status 2 (checked before any data is loaded or any directory is made); a diverged run exits 1
    naming the checkpoint to resume. Hydra's own flags (``--multirun``, ``--cfg``, ...) run through Hydra."""
    from graph_energy.cli._config import run_cli
    from graph_energy.training import TrainingDivergedError

    args = list(sys.argv[1:] if argv is None else argv)
    if any(a.startswith("-") and a not in ("-h", "--help") for a in args):
        sys.argv[1:] = args
        try:
            sys.argv[1:] = _take_targets(sys.argv[1:])
        except ValueError as err:
            print(f"gem-train: error: {err}", file=sys.stderr)
            return 2
        _hydra_main()
        return 0
    try:
        return run_cli("gem-train", __doc__, args, prepare_config, _train_body)
    except TrainingDivergedError as err:  # says which checkpoint to resume from
        print(f"gem-train: error: {err}", file=sys.stderr)
        return 1


def _take_targets(argv: list[str]) -> list[str]:
    from graph_energy.cli._config import take_allowed_targets

    argv = take_allowed_targets(argv)
    _check_train_keys(argv)
    return argv


if __name__ == "__main__":
    sys.exit(main())
