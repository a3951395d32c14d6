"""Self-contained training checkpoints: safe to load, atomic to write.

A checkpoint is a dict of tensors and plain Python containers only, so it loads with
``torch.load(weights_only=True)``. Keys (format version 1):

``format``, ``version``, ``step``, ``model`` (state dict), ``ema`` (state dict or None),
``optimizer``, ``scheduler``, ``rng`` (torch/numpy/python states), ``data_state``, ``config``
(the resolved run config), ``spec`` (``MolecularSpec.to_dict()``), ``stats``
(``DatasetStats.to_dict()``), ``metrics`` and ``extras`` (free-form plain data, e.g. a sampler's
``"calibration"``).
"""

from __future__ import annotations

import logging
import os
import pickle
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CheckpointError", "Checkpoint", "LoadedModel",
           "save_checkpoint", "load_checkpoint", "load_energy_model", "capture_rng_state", "restore_rng_state"]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "graph_energy.checkpoint"
CHECKPOINT_VERSION = 1
_REQUIRED = ("format", "version", "step", "model", "config", "spec")
_KNOWN = _REQUIRED + ("stats", "ema", "optimizer", "scheduler", "rng", "data_state", "metrics", "extras")


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated or incompatible (the message names the file)."""


@dataclass
class Checkpoint:
    """A loaded checkpoint (see the module docstring for the meaning of the fields)."""

    path: Path
    step: int
    model: dict
    config: dict
    spec: dict
    stats: dict | None = None
    ema: dict | None = None
    optimizer: dict | None = None
    scheduler: dict | None = None
    rng: dict | None = None
    data_state: dict | None = None
    metrics: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    other: dict = field(default_factory=dict)

    def molecular_spec(self):
        from graph_energy.data.spec import MolecularSpec

        return MolecularSpec.from_dict(self.spec)

    def dataset_stats(self):
        if self.stats is None:
            return None
        from graph_energy.data.stats import DatasetStats

        return DatasetStats.from_dict(self.stats)


@dataclass
class LoadedModel:
    """An energy model rebuilt from a checkpoint, with everything needed to sample from it."""

    model: torch.nn.Module
    spec: Any
    stats: Any
    config: dict
    extras: dict
    step: int = 0


def remove_stale_temporaries(path: Path, min_age_s: float = 60.0) -> list[Path]:
    """Delete temporary files of ``path`` left by a write that was killed (``.<name>.*.tmp``, older than
    ``min_age_s`` so that a write in progress in another process is never touched). Returns what was removed."""
    removed = []
    now = time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime >= min_age_s:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            pass
    if removed:
        log.info("removed %d stale temporary checkpoint file(s) next to %s", len(removed), path.name)
    return removed


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file in the same folder + ``os.replace``).

    ``format``/``version`` are added when absent. Returns the absolute path written.
    """
    path = Path(path).expanduser().absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload}
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _first_line(err: BaseException) -> str:
    """``Type: first line of the message`` (safe for empty messages)."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:200]}" if lines else type(err).__name__


def check_map_location(map_location, path: Path | None = None) -> None:
    """A ``ValueError`` (not a :class:`CheckpointError`: the file is fine) when ``map_location`` names a
    device this machine does not have, e.g. ``cuda`` without CUDA."""
    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return
    what = f"checkpoint {path}" if path is not None else "a checkpoint"
    try:
        dev = torch.device(map_location)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"cannot load {what} onto {map_location!r}: not a device; use cpu, cuda or "
                         "cuda:<index>") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"cannot load {what} onto {map_location!r}: CUDA is not available on this machine "
                         "(no GPU or a CPU-only torch build); use device=cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"cannot load {what} onto {map_location!r}: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load and check a checkpoint with ``torch.load(weights_only=True)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: ``map_location`` is a device this machine does not have (``cuda`` without CUDA).
        CheckpointError: the file is truncated/corrupt, not a graph_energy checkpoint, of an unknown
            version, or lacks required entries; the message names the file and the problem.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory; pass the .pt file (e.g. {path}/checkpoints/last.pt)")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): an interrupted write or a wrong file; "
                              "use another checkpoint (e.g. the previous step_*.pt)")
    check_map_location(map_location, path)
    try:
        raw = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower() or "weights_only" in str(err):
            raise CheckpointError(
                f"checkpoint {path} contains objects that are not allowed in a checkpoint (code or classes beyond "
                "tensors and plain data); it was refused and must not be loaded unsafely") from None
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated and cannot be read "
                              f"({_first_line(err)})") from None
    except RuntimeError as err:
        if "cuda" in str(err).lower() and "is_available() is false" in str(err).lower():
            raise ValueError(f"checkpoint {path} holds CUDA tensors but CUDA is not available on this machine; "
                             "load it with map_location='cpu' (device=cpu)") from None
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated, or not a checkpoint at all, and "
                              f"cannot be read ({_first_line(err)})") from None
    except Exception as err:  # torch's unpickler raises many types (EOFError, KeyError, RuntimeError, ...)
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated, or not a checkpoint at all, and "
                              f"cannot be read ({_first_line(err)})") from None
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a graph_energy checkpoint (no format tag '{CHECKPOINT_FORMAT}')")
    if raw.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {raw.get('version')!r}; this library reads "
                              f"version {CHECKPOINT_VERSION}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks required entries {missing}")
    return Checkpoint(path=path.absolute(), step=int(raw["step"]), model=raw["model"], config=raw["config"],
                      spec=raw["spec"], stats=raw.get("stats"), ema=raw.get("ema"),
                      optimizer=raw.get("optimizer"), scheduler=raw.get("scheduler"), rng=raw.get("rng"),
                      data_state=raw.get("data_state"), metrics=raw.get("metrics") or {},
                      extras=raw.get("extras") or {},
                      other={k: v for k, v in raw.items() if k not in _KNOWN})


def load_state_checked(module: torch.nn.Module, state: dict, path: Path, what: str = "model") -> None:
    """``module.load_state_dict(state)`` with an error naming the file and the mismatching keys/shapes."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and hasattr(state[k], "shape") and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
        if shapes:
            parts.append("shape mismatch " + "; ".join(shapes[:5]))
        raise CheckpointError(f"{what} weights in checkpoint {path} do not fit the model built from its config: "
                              + ", ".join(parts))
    module.load_state_dict(state)


def load_energy_model(path: str | os.PathLike, use_ema: bool = True,
                      map_location: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the energy model of a checkpoint (EMA weights when present and ``use_ema``), in eval mode.

    The architecture comes from ``config["model"]`` and the checkpoint's spec via
    :func:`graph_energy.models.build_energy_model`. The stored config is data: only ``graph_energy``
    classes (and :func:`graph_energy.config.allow_targets` entries) are built from it, any other
    ``_target_`` raises :class:`~graph_energy.config.UnsafeTargetError` before it is imported or called.
    """
    ckpt = load_checkpoint(path, map_location=map_location)
    from graph_energy.config import UnsafeTargetError
    from graph_energy.models import build_energy_model

    model_cfg = ckpt.config.get("model")
    if model_cfg is None:
        raise CheckpointError(f"checkpoint {ckpt.path} has no 'model' section in its config")
    spec = ckpt.molecular_spec()
    try:
        model = build_energy_model(model_cfg, spec, trusted=False)
    except UnsafeTargetError as err:
        raise UnsafeTargetError(f"checkpoint {ckpt.path}: {err}") from None
    weights = ckpt.ema if (use_ema and ckpt.ema is not None) else ckpt.model
    load_state_checked(model, weights, ckpt.path, "EMA" if weights is ckpt.ema else "model")
    model.to(map_location).eval()
    return LoadedModel(model=model, spec=spec, stats=ckpt.dataset_stats(), config=ckpt.config,
                       extras=ckpt.extras, step=ckpt.step)


# ---------------------------------------------------------------------- RNG states as plain data
def capture_rng_state() -> dict:
    """Global torch / numpy / python RNG states as tensors and plain containers."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    out = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": py_state[0], "state": list(py_state[1]),
                   "gauss": py_state[2]},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu().to(torch.uint8) for s in state["cuda"]])
