"""Experiment tracking behind one small interface; the only module that imports ``wandb``.

Trackers are cheap to construct (options only) and do their I/O in :meth:`Tracker.open`, which the
training driver calls with the run directory on the main process. Available:

* :class:`ConsoleTracker` – log lines and an optional progress bar;
* :class:`FileTracker` – ``metrics.csv`` (wide, one row per logged step) and ``metrics.jsonl``, and PNG
  curves of them when the run ends (:func:`plot_metrics`; also ``gem-plot run=<run dir>``);
* :class:`WandbTracker` – Weights & Biases, offline unless ``mode="online"``;
* :class:`MultiTracker` – fan-out; :class:`NullTracker` – nothing (non-main ranks).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["Tracker", "NullTracker", "ConsoleTracker", "FileTracker", "WandbTracker", "MultiTracker",
           "read_metrics", "plot_metrics"]

log = logging.getLogger("graph_energy.train")


class Tracker:
    """Interface: ``open`` once, ``log`` many times, ``close`` once."""

    def open(self, run_dir: Path, config: dict | None = None, start_step: int = 0,
             total_steps: int | None = None) -> None:
        """Start tracking a run whose files live in ``run_dir`` (resumed at ``start_step``)."""

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Record scalar ``metrics`` at optimisation ``step``."""

    def progress(self, step: int) -> None:
        """Called after every step (cheap)."""

    def close(self, status: str = "completed") -> None:
        """Flush and release resources."""


class NullTracker(Tracker):
    """Records nothing."""


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class ConsoleTracker(Tracker):
    """Logs metrics through ``logging`` and shows a ``tqdm`` progress bar.

    Args:
        progress_bar: show a bar (disable for non-interactive logs).
        keys: metric names shown in log lines (all when None).
    """

    def __init__(self, progress_bar: bool = True, keys: list[str] | None = None) -> None:
        self.progress_bar = progress_bar
        self.keys = list(keys) if keys else None
        self._bar = None

    def open(self, run_dir, config=None, start_step=0, total_steps=None) -> None:
        if self.progress_bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, desc="train", dynamic_ncols=True, leave=True)
        log.info("run directory: %s", run_dir)

    def log(self, metrics, step) -> None:
        shown = {k: v for k, v in metrics.items() if self.keys is None or k in self.keys}
        text = " ".join(f"{k}={_fmt(v)}" for k, v in shown.items())
        if self._bar is not None:
            self._bar.set_postfix_str(text[:120], refresh=False)
            self._bar.write(f"step {step}: {text}")
        else:
            log.info("step %d: %s", step, text)

    def progress(self, step) -> None:
        if self._bar is not None:
            self._bar.update(step - self._bar.n)

    def close(self, status="completed") -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        log.info("training %s", status)


class FileTracker(Tracker):
    """Appends metrics to ``<run_dir>/metrics.jsonl`` and keeps ``<run_dir>/metrics.csv`` (wide format).

    On resume, rows at or after the resume step are dropped so that the files describe one
    consistent history. The CSV is rewritten whenever a new metric name appears. With ``plots``,
    :meth:`close` draws ``loss.png`` and ``metrics.png`` into the run directory (needs matplotlib;
    skipped with a log line without it).
    """

    def __init__(self, csv_name: str = "metrics.csv", jsonl_name: str = "metrics.jsonl", plots: bool = True) -> None:
        self.csv_name, self.jsonl_name = csv_name, jsonl_name
        self.plots = plots
        self._rows: list[dict[str, Any]] = []
        self._columns: list[str] = ["step"]
        self.run_dir: Path | None = None

    def open(self, run_dir, config=None, start_step=0, total_steps=None) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        jl = self.run_dir / self.jsonl_name
        self._rows = []
        if jl.exists():
            for line in jl.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interruption
                if int(row.get("step", 0)) <= start_step:
                    self._rows.append(row)
        merged: list[dict[str, Any]] = []
        for row in self._rows:  # jsonl holds one line per log call; the CSV one row per step
            if merged and merged[-1]["step"] == row["step"]:
                merged[-1].update(row)
            else:
                merged.append(dict(row))
            for k in row:
                if k not in self._columns:
                    self._columns.append(k)
        jl.write_text("".join(json.dumps(r) + "\n" for r in self._rows))
        self._rows = merged
        self._write_csv()

    def _write_csv(self) -> None:
        tmp = self.run_dir / (self.csv_name + ".tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=self._columns, restval="")
            w.writeheader()
            w.writerows(self._rows)
        os.replace(tmp, self.run_dir / self.csv_name)

    def log(self, metrics, step) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
        with open(self.run_dir / self.jsonl_name, "a") as fh:
            fh.write(json.dumps({"step": int(step), **clean}) + "\n")
        new = [k for k in clean if k not in self._columns]
        self._columns.extend(new)
        if self._rows and self._rows[-1]["step"] == int(step):
            self._rows[-1].update(clean)  # e.g. validation metrics of a step already logged: one CSV row
            self._write_csv()
            return
        row = {"step": int(step), **clean}
        self._rows.append(row)
        if new:
            self._write_csv()
        else:
            with open(self.run_dir / self.csv_name, "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=self._columns, restval="").writerow(row)

    def close(self, status="completed") -> None:
        if not self.plots or self.run_dir is None or not self._rows:
            return
        try:
            written = plot_metrics(self.run_dir)
        except ImportError as err:
            log.info("no metric plots (%s; pip install matplotlib)", err)
        except Exception as err:  # noqa: BLE001 - a plot must never fail a finished run
            log.warning("could not draw the metric plots: %s", err)
        else:
            if written:
                log.info("metric curves: %s", ", ".join(str(p) for p in written))


class WandbTracker(Tracker):
    """Weights & Biases run; ``mode`` defaults to ``"offline"`` (files only, no network).

    Args:
        project: wandb project name.
        mode: ``"offline"``, ``"online"`` or ``"disabled"``; the ``WANDB_MODE`` environment variable
            wins when set.
        entity, name, tags, group: passed to ``wandb.init``.
        dir: where wandb writes (default: the run directory).
    """

    def __init__(self, project: str = "graph_energy", mode: str = "offline", entity: str | None = None,
                 name: str | None = None, tags: list[str] | None = None, group: str | None = None,
                 dir: str | None = None) -> None:
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"wandb mode must be offline, online or disabled, got {mode!r}")
        self.kwargs = dict(project=project, entity=entity, name=name, tags=list(tags) if tags else None, group=group)
        self.mode = mode
        self.dir = dir
        self.run = None

    def open(self, run_dir, config=None, start_step=0, total_steps=None) -> None:
        try:
            import wandb
        except ImportError as err:
            raise ValueError("tracker=wandb needs the wandb package: pip install 'graph-energy[wandb]'") from err
        wdir = Path(self.dir or os.environ.get("WANDB_DIR") or run_dir)
        wdir.mkdir(parents=True, exist_ok=True)
        mode = os.environ.get("WANDB_MODE", self.mode)
        self.run = wandb.init(dir=str(wdir), mode=mode, config=config, resume="allow",
                              id=_stable_run_id(run_dir), **{k: v for k, v in self.kwargs.items() if v is not None})

    def log(self, metrics, step) -> None:
        if self.run is not None:
            self.run.log(dict(metrics), step=int(step))

    def close(self, status="completed") -> None:
        if self.run is not None:
            self.run.summary["status"] = status
            self.run.finish(exit_code=0 if status in ("completed", "interrupted") else 1)
            self.run = None


def _stable_run_id(run_dir) -> str:
    import hashlib

    return hashlib.sha1(str(Path(run_dir).absolute()).encode()).hexdigest()[:12]


class MultiTracker(Tracker):
    """Forwards every call to each of ``trackers``."""

    def __init__(self, trackers: list[Tracker] | None = None) -> None:
        self.trackers = list(trackers or [])

    def open(self, run_dir, config=None, start_step=0, total_steps=None) -> None:
        for t in self.trackers:
            t.open(run_dir, config, start_step, total_steps)

    def log(self, metrics, step) -> None:
        for t in self.trackers:
            t.log(metrics, step)

    def progress(self, step) -> None:
        for t in self.trackers:
            t.progress(step)

    def close(self, status="completed") -> None:
        for t in self.trackers:
            t.close(status)


# ---------------------------------------------------------------------------------------------- plots
def read_metrics(run_dir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` of a run directory's ``metrics.csv`` (or ``metrics.jsonl``);
    non-numeric and missing values are left out. ``ValueError`` when there is neither file."""
    run_dir = Path(run_dir)
    rows: list[dict] = []
    if (run_dir / "metrics.csv").is_file():
        with open(run_dir / "metrics.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
    elif (run_dir / "metrics.jsonl").is_file():
        for line in (run_dir / "metrics.jsonl").read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    else:
        raise ValueError(f"no metrics.csv or metrics.jsonl in {run_dir}; pass the run directory of a gem-train run")
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        try:
            step = int(float(row.get("step")))
        except (TypeError, ValueError):
            continue
        for key, value in row.items():
            if key == "step" or value in (None, ""):
                continue
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(v):
                series.setdefault(key, []).append((step, v))
    return series


def _is_loss(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith("loss")


def plot_metrics(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                 title: str | None = None) -> list[Path]:
    """Draw a run's metric curves as PNGs; returns the files written (none when nothing was logged).

    * ``loss.png``: the total training and validation losses (left) and the loss terms (right);
    * ``metrics.png``: one small panel per other logged metric (learning rate, gradient norm, ...).

    Uses matplotlib's Agg canvas directly (no pyplot, no global backend change).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir
    out.mkdir(parents=True, exist_ok=True)
    series = read_metrics(run_dir)
    if not series:
        return []
    title = title or run_dir.name
    written = []
    totals = [k for k in series if _is_loss(k) and k.rsplit("/", 1)[-1] in ("loss", "loss_ema")]
    terms = [k for k in series if _is_loss(k) and k not in totals]
    if totals or terms:
        fig = Figure(figsize=(11 if terms else 6, 4), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2 if terms else 1, squeeze=False)[0]
        for ax, keys, name in zip(axes, (totals or terms, terms if totals else []), ("loss", "loss terms")):
            for k in keys:
                steps, vals = zip(*series[k])
                marker = "o" if len(steps) <= 30 or not k.startswith("train/") else None
                ax.plot(steps, vals, marker=marker, markersize=3, linewidth=1.2, label=k)
            ax.set_xlabel("step")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"{title}: losses")
        fig.savefig(out / "loss.png", dpi=110)
        written.append(out / "loss.png")
    others = [k for k in series if not _is_loss(k)]
    if others:
        cols = min(4, len(others))
        rows_n = -(-len(others) // cols)
        fig = Figure(figsize=(3.2 * cols, 2.5 * rows_n), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows_n, cols, squeeze=False).ravel()
        for ax, k in zip(axes, others):
            steps, vals = zip(*series[k])
            ax.plot(steps, vals, marker="o" if len(steps) <= 30 else None, markersize=2.5, linewidth=1.0)
            ax.set_title(k, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if k.endswith("/lr") or (min(vals) > 0 and max(vals) / min(vals) > 1e3):
                ax.set_yscale("log")
        for ax in axes[len(others):]:
            ax.set_visible(False)
        fig.suptitle(f"{title}: metrics (x: step)")
        fig.savefig(out / "metrics.png", dpi=100)
        written.append(out / "metrics.png")
    return written
