"""Start a run from the weights of another checkpoint (phase-2 fine-tuning from a phase-1 run)."""

from __future__ import annotations

import logging
import os

import torch

from graph_energy.training.checkpoint import Checkpoint, load_checkpoint, load_state_checked

__all__ = ["load_initial_weights"]

log = logging.getLogger(__name__)


def load_initial_weights(model: torch.nn.Module, path: str | os.PathLike, spec: dict | None = None,
                         map_location: str | torch.device = "cpu") -> Checkpoint:
    """Copy the weights of checkpoint ``path`` into ``model`` (its EMA weights when present).

    Only the weights are taken: the optimizer, schedule, step and data position start afresh.

    Args:
        model: the freshly built network (same architecture as the checkpoint's).
        path: checkpoint file.
        spec: ``MolecularSpec.to_dict()`` of this run's dataset; a checkpoint trained on another
            vocabulary is refused.
    Returns:
        the loaded :class:`Checkpoint` (for its config and extras).
    """
    ck = load_checkpoint(path, map_location=map_location)
    if spec and ck.spec and dict(spec) != dict(ck.spec):
        diff = sorted(k for k in set(spec) | set(ck.spec) if spec.get(k) != ck.spec.get(k))
        raise ValueError(f"cannot initialise from {ck.path}: its molecular spec differs from this run's dataset in "
                         f"{diff}; fine-tune on the dataset the checkpoint was trained on")
    weights = ck.ema if ck.ema is not None else ck.model
    which = "EMA" if weights is ck.ema else "model"
    load_state_checked(model, weights, ck.path, which)
    log.info("initialised the %s weights from %s (step %d, %s weights); optimizer and schedule start afresh",
             type(model).__name__, ck.path, ck.step, which)
    return ck
