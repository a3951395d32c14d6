"""Training: objectives, the plain-torch driver and its settings, EMA, schedules, checkpoints, distributed setup."""

from graph_energy.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    LoadedModel,
    load_checkpoint,
    load_energy_model,
    save_checkpoint,
)
from graph_energy.training.distributed import DistInfo, cleanup_distributed, setup_distributed
from graph_energy.training.ema import EMA
from graph_energy.training.loop import TrainConfig, Trainer, TrainResult
from graph_energy.training.objective import Objective, TransportObjective, bind_objective
from graph_energy.training.schedule import TrainingDivergedError, WarmupSchedule

__all__ = ["Checkpoint", "CheckpointError", "LoadedModel", "load_checkpoint", "load_energy_model",
           "save_checkpoint", "DistInfo", "setup_distributed", "cleanup_distributed", "EMA", "TrainConfig",
           "Trainer", "TrainResult", "Objective", "TransportObjective", "bind_objective", "TrainingDivergedError",
           "WarmupSchedule"]
