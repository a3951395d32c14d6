"""The plain-torch training driver: accumulation, clipping, EMA, back-off, validation, checkpoints, DDP."""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import math
import os
import signal
import threading
import time
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from graph_energy.tracking import NullTracker, Tracker
from graph_energy.training.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    load_state_checked,
    restore_rng_state,
)
from graph_energy.training.data import ShardedBatches, densify, make_generator
from graph_energy.training.distributed import DistInfo, all_reduce_mean, all_true
from graph_energy.training.ema import EMA
from graph_energy.training.keeper import CheckpointKeeper
from graph_energy.training.objective import Objective
from graph_energy.training.schedule import TrainingDivergedError, WarmupSchedule

__all__ = ["TrainConfig", "TrainResult", "Trainer"]

log = logging.getLogger("graph_energy.train")


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run: the schema of the ``train:`` config node (plus the run ``seed``).

    Construction validates every value (types, ranges) with a one-line ``ValueError`` naming the key
    and how to fix it; :meth:`from_dict` also rejects unknown keys, naming the closest valid one.

    ``batch_size`` is the number of graphs per micro-batch per rank; one optimisation step sees
    ``batch_size * accum_steps * world_size`` graphs. ``run_dir``, ``resume``, ``init_from``,
    ``device`` and ``num_threads`` are read by the entry point, the rest by :class:`Trainer`.
    """

    run_dir: str | None = None
    resume: str | None = None
    init_from: str | None = None
    device: str = "auto"
    num_threads: int | None = 1  # one is fastest for molecule-sized graphs on small CPUs; None: torch's default
    max_steps: int = 2000
    batch_size: int = 64
    accum_steps: int = 1
    grad_clip: float | None = 10.0
    ema_decay: float | None = 0.999
    log_every: int = 10
    val_every: int = 500
    val_batches: int = 4
    val_batch_size: int | None = None
    ckpt_every: int = 1000
    keep_checkpoints: int | None = 3
    max_nodes: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _checked(f.name, getattr(self, f.name), _HINTS[f.name], f.default))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], seed: int = 0) -> TrainConfig:
        """Validate a ``train:`` node (a plain mapping) into settings; ``seed`` is the top-level run seed."""
        cls.check_keys(values)
        return cls(**dict(values), seed=seed)

    @classmethod
    def check_keys(cls, keys: Iterable[str]) -> None:
        """Raise a ``ValueError`` naming the first key that is not a ``train:`` setting and its closest match."""
        names = [f.name for f in fields(cls) if f.name != "seed"]
        for key in keys:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = (f"did you mean train.{close[0]}?" if close else
                        "the run seed is the top-level seed=..." if key == "seed" else
                        f"valid keys: {', '.join(names)}")
                raise ValueError(f"unknown key train.{key} ({hint})")


_HINTS = typing.get_type_hints(TrainConfig)
_MIN = {"num_threads": 1, "max_steps": 1, "batch_size": 1, "accum_steps": 1, "log_every": 1, "val_every": 0,
        "val_batches": 0, "val_batch_size": 1, "ckpt_every": 0, "keep_checkpoints": 1, "max_nodes": 1}
_OFF = {"grad_clip": "null turns clipping off", "ema_decay": "null turns the EMA off",
        "keep_checkpoints": "null keeps all", "val_batch_size": "null: batch_size", "max_nodes": "null: batch maximum",
        "num_threads": "null: the torch default"}


def _checked_lr(lr: Any) -> float:
    """An optimizer's base learning rate, checked: a finite number >= 0 (a one-line ``ValueError``)."""
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise ValueError(f"the learning rate (optim.optimizer.lr) must be a number, got {lr!r}") from None
    if isinstance(lr, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"the learning rate (optim.optimizer.lr) must be a finite number >= 0, got {lr!r} "
                         "(e.g. optim.optimizer.lr=1e-4)")
    if value > 1.0:
        log.warning("learning rate %.3g is unusually large (Adam-type optimizers use ~1e-4); expect non-finite "
                    "losses", value)
    return lr


def _checked(name: str, value: Any, hint: Any, default: Any) -> Any:
    """``value`` converted to the field's type, or a ``ValueError`` naming ``train.<name>`` and the fix."""
    key = name if name == "seed" else f"train.{name}"
    args = typing.get_args(hint)
    kind = next(a for a in args if a is not type(None)) if args else hint
    optional = type(None) in args
    example = f"e.g. {key}={'null' if default is None else default}"
    if isinstance(value, str) and value == "???":
        raise ValueError(f"{key} must be set: pass {key}=...")
    if value is None:
        if optional:
            return None
        raise ValueError(f"{key} cannot be null ({example})")
    try:
        if kind is str:
            if not isinstance(value, (str, os.PathLike)):
                raise TypeError
            out: Any = os.fspath(value)
        elif isinstance(value, bool):
            raise TypeError
        elif kind is int:
            out = int(value) if isinstance(value, str) else value
            if isinstance(out, float) and out.is_integer():
                out = int(out)
            if not isinstance(out, int):
                raise TypeError
        else:
            out = float(value)
    except (TypeError, ValueError):
        what = {int: "an integer", float: "a number", str: "a string"}[kind]
        raise ValueError(f"{key} must be {what}{' or null' if optional else ''}, got {value!r} ({example})") from None
    off = f"; {_OFF[name]}" if name in _OFF else ""
    if name in _MIN and out < _MIN[name]:
        raise ValueError(f"{key} must be >= {_MIN[name]}, got {value!r} ({example}{off})")
    if name == "grad_clip" and out <= 0:
        raise ValueError(f"{key} must be > 0, got {value!r} ({example}{off})")
    if name == "ema_decay" and not 0.0 < out < 1.0:
        raise ValueError(f"{key} must be in (0, 1), got {value!r} ({example}{off})")
    if name == "device" and out != "auto":
        try:
            torch.device(out)
        except RuntimeError:
            raise ValueError(f"{key} must be auto, cpu, cuda or cuda:<index>, got {value!r}") from None
    return out


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`.

    ``losses`` holds the training loss of every step run in this call (this rank's batch, NaN for a
    skipped step), ``val`` the validation records, ``graphs_per_s`` the global training throughput,
    ``good_checkpoint`` the newest checkpoint confirmed to precede any non-finite step.
    """

    status: str
    step: int
    run_dir: Path
    last_checkpoint: Path | None
    losses: list[float] = field(default_factory=list)
    val: list[dict] = field(default_factory=list)
    wall_time_s: float = 0.0
    train_time_s: float = 0.0
    graphs_per_s: float = 0.0
    skipped_steps: int = 0
    model: torch.nn.Module | None = field(default=None, repr=False, compare=False)
    good_checkpoint: Path | None = None


class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop checkpoints and stops at the next step boundary."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:  # second signal: give up immediately
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("received %s: will write a checkpoint and stop after this step", signal.Signals(signum).name)

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


class Trainer:
    """Fits an energy model with an :class:`~graph_energy.training.objective.Objective`.

    Every micro-batch loss is ``objective(model, x_1, generator, step=step)``; validation reports the
    loss of ``objective.validation_objective`` on fixed batches with fixed randomness.

    Args:
        model: the energy network (unwrapped; DDP wrapping happens here when ``dist.enabled``).
        objective: e.g. :class:`~graph_energy.training.objective.TransportObjective`.
        optimizer_factory: ``params -> torch.optim.Optimizer`` (base learning rate set in it).
        schedule: learning-rate multiplier with back-off.
        train_set, val_set: PyG datasets (``val_set`` may be None).
        num_node_classes, num_edge_classes: one-hot widths of the spec.
        cfg: driver settings.
        run_dir: absolute directory for checkpoints and metrics.
        tracker: metrics sink (used on the main rank only).
        dist: process layout from :func:`~graph_energy.training.distributed.setup_distributed`.
        checkpoint_meta: plain data stored in every checkpoint (``config``, ``spec``, ``stats``, ``extras``).
    """

    def __init__(self, model: torch.nn.Module, objective: Objective, optimizer_factory, schedule: WarmupSchedule,
                 train_set, val_set, num_node_classes: int, num_edge_classes: int, cfg: TrainConfig,
                 run_dir: str | Path, tracker: Tracker | None = None, dist: DistInfo | None = None,
                 checkpoint_meta: dict | None = None) -> None:
        self.dist = dist or DistInfo()
        self.device = self.dist.device
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        if not self.run_dir.is_absolute():
            raise ValueError(f"run_dir must be absolute, got {run_dir!r}")
        if not isinstance(objective, Objective):
            raise TypeError(f"objective must be a graph_energy.training.Objective, got {type(objective).__name__}")
        self.model = model.to(self.device)
        self.objective = objective
        try:
            self.optimizer = optimizer_factory(self.model.parameters())
        except ValueError as err:  # torch's own checks ("Invalid learning rate: nan") do not name the key
            raise ValueError(f"cannot build the optimizer (optim.optimizer): {err}") from None
        self.base_lrs = [_checked_lr(g.get("lr")) for g in self.optimizer.param_groups]
        self.schedule = schedule
        if self.schedule.total_steps is None:
            self.schedule.total_steps = cfg.max_steps
        self.ema = EMA(self.model, cfg.ema_decay) if cfg.ema_decay is not None else None
        self.tracker = tracker if (tracker is not None and self.dist.is_main) else NullTracker()
        self.meta = dict(checkpoint_meta or {})
        self.dx, self.de = num_node_classes, num_edge_classes
        self.batches = ShardedBatches(train_set, cfg.batch_size, cfg.accum_steps, self.dist.world_size,
                                      self.dist.rank, cfg.seed, num_node_classes, num_edge_classes, cfg.max_nodes)
        self.val_set = val_set
        self.step = 0
        self.keeper = CheckpointKeeper(self.run_dir / "checkpoints", cfg.keep_checkpoints, self.dist.is_main)
        self.ddp = (DistributedDataParallel(self.model, device_ids=[self.device.index]
                                            if self.device.type == "cuda" else None)
                    if self.dist.enabled else None)

    # ------------------------------------------------------------------ checkpoints
    def state_payload(self) -> dict:
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.module.state_dict() if self.ema else None,
            "ema_state": {"decay": self.ema.decay, "num_updates": self.ema.num_updates} if self.ema else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "rng": capture_rng_state(),
            "data_state": {**self.batches.state_dict(), "step": self.step, "epoch": self.batches.epoch_of(self.step),
                           "world_size": self.dist.world_size},
            "config": self.meta.get("config", {}),
            "spec": self.meta.get("spec", {}),
            "stats": self.meta.get("stats"),
            "extras": self.meta.get("extras", {}),
            "metrics": self.meta.get("metrics", {}),
        }

    def _clean(self) -> bool:
        """No non-finite step pending and the learning rate not backed off."""
        return self.schedule.consecutive_failures == 0 and self.schedule.backoff_scale >= 1.0

    def save(self) -> Path | None:
        """Write ``checkpoints/step_XXXXXXXX.pt`` and ``last.pt`` on the main rank (rotation keeps the
        newest good checkpoint, see :class:`~graph_energy.training.keeper.CheckpointKeeper`)."""
        path = self.keeper.save(self.step, self.state_payload, self._clean())
        return path if self.dist.is_main else None

    def _save_if_finite(self, ok: bool, why: str) -> Path | None:
        """:meth:`save` unless the last step was non-finite (its state is not worth keeping)."""
        if ok:
            return self.save()
        advice = "" if why == "periodic" else " " + self.keeper.advice()
        log.warning("no %s checkpoint at step %d: the loss is non-finite.%s", why, self.step, advice)
        return None

    def resume(self, path: str | Path) -> None:
        """Restore everything from a checkpoint of a compatible run."""
        ck = load_checkpoint(path, map_location=self.device)
        spec = self.meta.get("spec")
        if spec and ck.spec and dict(spec) != dict(ck.spec):
            diff = sorted(k for k in set(spec) | set(ck.spec) if spec.get(k) != ck.spec.get(k))
            raise ValueError(f"cannot resume from {ck.path}: its molecular spec differs from this run's dataset "
                             f"in {diff}; resume with the same dataset or start a new run")
        load_state_checked(self.model, ck.model, ck.path)
        if self.ema is not None:
            if ck.ema is None:
                raise ValueError(f"cannot resume from {ck.path}: it has no EMA weights but train.ema_decay is set")
            load_state_checked(self.ema.module, ck.ema, ck.path, "EMA")
            self.ema.num_updates = int((ck.other.get("ema_state") or {}).get("num_updates", ck.step))
        if ck.optimizer is None:
            raise ValueError(f"cannot resume from {ck.path}: it holds no optimizer state (a weights-only export)")
        try:
            self.optimizer.load_state_dict(ck.optimizer)
        except (ValueError, KeyError) as err:
            raise ValueError(f"optimizer state in {ck.path} does not fit this model/optimizer: {err}") from err
        for g, lr in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = lr  # the schedule recomputes the rate from the base value
        if ck.scheduler:
            self.schedule.load_state_dict(ck.scheduler)
        if ck.rng:
            restore_rng_state(ck.rng)
        ds = ck.data_state or {}
        if ds.get("global_batch") not in (None, self.batches.global_batch):
            log.warning("resuming with a different global batch (%s -> %s): the data order changes",
                        ds.get("global_batch"), self.batches.global_batch)
        self.step = ck.step
        self.keeper.start_from(ck.path, self._clean())
        log.info("resumed from %s at step %d", ck.path, self.step)

    # ------------------------------------------------------------------ steps
    def _set_lr(self) -> float:
        f = self.schedule.factor(self.step)
        for g, lr in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = lr * f
        return self.base_lrs[0] * f

    def train_step(self) -> tuple[bool, dict[str, float]]:
        """One optimisation step (all micro-batches). Returns (applied, scalars of this rank)."""
        net = self.ddp if self.ddp is not None else self.model
        self.model.train()
        lr = self._set_lr()
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {}
        for k in range(self.cfg.accum_steps):
            x_1 = self.batches.micro_batch(self.step, k).to(self.device)
            gen = make_generator(self.cfg.seed, 2, self.step, self.dist.rank * self.cfg.accum_steps + k)
            sync = self.ddp is None or k == self.cfg.accum_steps - 1
            with (contextlib.nullcontext() if sync else self.ddp.no_sync()):
                out = self.objective(net, x_1, gen, step=self.step)
                (out.loss / self.cfg.accum_steps).backward()
            for key, v in out.scalars().items():
                sums[key] = sums.get(key, 0.0) + v / self.cfg.accum_steps
        params = [p for p in self.model.parameters() if p.grad is not None]
        clip = self.cfg.grad_clip if self.cfg.grad_clip is not None else float("inf")
        gnorm = float(torch.nn.utils.clip_grad_norm_(params, clip)) if params else 0.0
        ok = all_true(math.isfinite(sums["loss"]) and math.isfinite(gnorm), self.dist, self.device)
        if ok:
            ok = self._optimizer_step(lr)
            if ok and self.ema is not None:
                self.ema.update(self.model)
        if not ok:
            self.optimizer.zero_grad(set_to_none=True)
        self.schedule.record(ok, self.step)
        sums.update(grad_norm=gnorm, lr=lr)
        return ok, sums

    def _optimizer_step(self, lr: float) -> bool:
        """``optimizer.step()``; an update too large for the parameters' dtype (torch raises "value
        cannot be converted ... without overflow" inside Adam for a huge learning rate) counts as a
        non-finite step instead of crashing the run."""
        try:
            self.optimizer.step()
        except RuntimeError as err:
            if "overflow" not in str(err):
                raise
            log.warning("the optimizer update at step %d overflowed (learning rate %.3g is far too large): "
                        "update skipped", self.step, lr)
            return False
        return True

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean validation-objective loss on fixed batches with fixed randomness (raw and EMA weights)."""
        if self.val_set is None or len(self.val_set) == 0 or self.cfg.val_batches < 1:
            return {}
        bs = self.cfg.val_batch_size or self.cfg.batch_size
        order = torch.randperm(len(self.val_set), generator=make_generator(self.cfg.seed, 3))
        out: dict[str, float] = {}
        models = [("val/loss", self.model)] + ([("val/loss_ema", self.ema.module)] if self.ema else [])
        objective = self.objective.validation_objective
        # a loss built from the energy's gradient needs autograd even here
        grad = torch.enable_grad if objective.second_order else contextlib.nullcontext
        for name, m in models:
            was = m.training
            m.eval()
            vals = []
            for i in range(self.cfg.val_batches):
                idx = order[i * bs:(i + 1) * bs]
                if idx.numel() == 0:
                    break
                x_1 = densify(self.val_set, idx, self.dx, self.de, self.cfg.max_nodes).to(self.device)
                with grad():
                    res = objective(m, x_1, make_generator(self.cfg.seed, 4, i), step=self.step)
                vals.append(float(res.loss.detach()))
            m.train(was)
            if vals:
                out[name] = sum(vals) / len(vals)
        return out

    # ------------------------------------------------------------------ driver
    def fit(self, resume_from: str | Path | None = None) -> TrainResult:
        """Run until ``cfg.max_steps`` (or a signal). Returns a :class:`TrainResult`."""
        if resume_from:
            self.resume(resume_from)
        cfg = self.cfg
        t_start = time.perf_counter()
        train_time, graphs, skipped = 0.0, 0, 0
        losses: list[float] = []
        val_hist: list[dict] = []
        status, last, ok = "completed", None, True
        self.tracker.open(self.run_dir, self.meta.get("config"), self.step, cfg.max_steps)
        window: dict[str, float] = {}
        nwin = 0
        try:
            with _StopFlag() as stop:
                while self.step < cfg.max_steps:
                    t0 = time.perf_counter()
                    try:
                        ok, scalars = self.train_step()
                    except TrainingDivergedError as err:
                        self.keeper.after_step(self.step, False, False)
                        raise self._diverged(err, losses, val_hist, t_start, train_time, graphs, skipped) from None
                    train_time += time.perf_counter() - t0
                    self.keeper.after_step(self.step, ok, self._clean())
                    graphs += self.batches.global_batch
                    skipped += int(not ok)
                    losses.append(scalars["loss"] if ok else float("nan"))
                    self.step += 1
                    if ok:
                        for k, v in scalars.items():
                            window[k] = window.get(k, 0.0) + v
                        nwin += 1
                    if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                        avg = {f"train/{k}": v / max(nwin, 1) for k, v in window.items()}
                        avg = all_reduce_mean(avg, self.dist, self.device)
                        avg.update({"train/graphs_per_s": graphs / max(train_time, 1e-9),
                                    "train/skipped_steps": float(self.schedule.total_failures),
                                    "train/epoch": float(self.batches.epoch_of(self.step - 1))})
                        self.tracker.log(avg, self.step)
                        window, nwin = {}, 0
                    if cfg.val_every and (self.step % cfg.val_every == 0 or self.step == cfg.max_steps):
                        v = self.validate() if self.dist.is_main else {}
                        if v:
                            val_hist.append({"step": self.step, **v})
                            self.tracker.log(v, self.step)
                    self.tracker.progress(self.step)
                    stop_now = not all_true(stop.signum is None, self.dist, self.device)
                    if stop_now:
                        status = "interrupted"
                        last = self._save_if_finite(ok, "interruption") or last
                        break
                    if cfg.ckpt_every and self.step % cfg.ckpt_every == 0 and self.step < cfg.max_steps:
                        last = self._save_if_finite(ok, "periodic") or last
            if status == "completed":
                last = self._save_if_finite(ok, "final") or last
        except BaseException:
            self.tracker.close("failed")
            raise
        self.tracker.close(status)
        return self._result(status, last, losses, val_hist, t_start, train_time, graphs, skipped)

    def _result(self, status: str, last: Path | None, losses: list, val_hist: list, t_start: float,
                train_time: float, graphs: int, skipped: int) -> TrainResult:
        """The :class:`TrainResult`; the main rank also writes ``summary.json``."""
        result = TrainResult(status=status, step=self.step, run_dir=self.run_dir, last_checkpoint=last,
                             losses=losses, val=val_hist, wall_time_s=time.perf_counter() - t_start,
                             train_time_s=train_time, graphs_per_s=graphs / max(train_time, 1e-9),
                             skipped_steps=skipped, model=self.model, good_checkpoint=self.keeper.good)
        if self.dist.is_main:
            summary = {k: (str(getattr(result, k)) if isinstance(getattr(result, k), Path) else getattr(result, k))
                       for k in ("status", "step", "run_dir", "last_checkpoint", "good_checkpoint", "val",
                                 "wall_time_s", "train_time_s", "graphs_per_s", "skipped_steps")}
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return result

    def _diverged(self, err: TrainingDivergedError, *progress) -> TrainingDivergedError:
        """The divergence error with the checkpoint to resume from; ``summary.json`` says ``diverged``."""
        self._result("diverged", self.keeper.good, *progress)
        out = TrainingDivergedError(f"{err} {self.keeper.advice()}")
        out.checkpoint = self.keeper.good
        return out
