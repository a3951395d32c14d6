"""Config helpers for the training tests (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

from hydra import compose, initialize_config_module


def compose_train(overrides: list[str]):
    with initialize_config_module("graph_energy.conf", version_base="1.3"):
        return compose("train", overrides=overrides)


def tiny_overrides(smiles_path, run_dir, **train) -> list[str]:
    """A seconds-long CPU run on the SMILES fixture."""
    base = {"max_steps": 6, "batch_size": 4, "log_every": 1, "val_every": 3, "val_batches": 1, "ckpt_every": 3,
            "device": "cpu", "keep_checkpoints": "null"}
    base.update(train)
    return (["dataset=smiles", f"dataset.source.path={smiles_path}", "dataset.workers=1", "model=tiny", "tracker=none",
             f"train.run_dir={run_dir}", "optim.schedule.warmup_steps=2", "optim.optimizer.lr=1e-3"]
            + [f"train.{k}={v}" for k, v in base.items()])
