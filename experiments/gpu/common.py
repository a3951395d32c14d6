"""Shared steps of the GPU recipes: run a command (or print it with ``--dry-run``), size a training run
to a wall-clock budget from a short probe, stop training at a deadline (SIGTERM: the trainer writes a
checkpoint and exits), and collect the reports.

Every command is a plain ``python -m graph_energy.cli.<tool>`` call, so the recipes need no
installed console scripts: the repository root on ``PYTHONPATH`` is enough.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable or "python3"


class Runner:
    """Runs (or, with ``dry_run``, prints) commands and records each one with its wall time."""

    def __init__(self, out: Path, dry_run: bool = False) -> None:
        self.out, self.dry_run = Path(out), dry_run
        self.log: list[dict] = []
        if not dry_run:
            self.out.mkdir(parents=True, exist_ok=True)

    def run(self, args: list[str], name: str, deadline_s: float | None = None, env: dict | None = None) -> int:
        """Run ``args``; after ``deadline_s`` seconds send SIGTERM (then SIGKILL 60 s later)."""
        line = " ".join(shlex.quote(str(a)) for a in args)
        print(f"[{name}] {line}" + (f"   # stopped after {deadline_s:.0f} s" if deadline_s else ""), flush=True)
        if self.dry_run:
            self.log.append({"name": name, "command": line, "dry_run": True})
            return 0
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in args], cwd=ROOT, env={**os.environ, **(env or {})})
        stopped = False
        try:
            proc.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            stopped = True
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        rc = proc.returncode
        self.log.append({"name": name, "command": line, "seconds": time.perf_counter() - t0, "returncode": rc,
                         "stopped_at_deadline": stopped})
        if rc != 0 and not stopped:
            raise SystemExit(f"[{name}] failed with exit code {rc}")
        return rc

    def write(self, report: dict) -> None:
        report = {**report, "commands": self.log}
        if self.dry_run:
            print(json.dumps({k: v for k, v in report.items() if k != "commands"}, indent=2))
            return
        (self.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")


def train_args(experiment: str, run_dir: Path, overrides: list[str]) -> list[str]:
    return [PY, "-m", "graph_energy.cli.train", f"experiment={experiment}", f"train.run_dir={run_dir}", *overrides]


def graphs_per_second(run_dir: Path, skip_rows: int = 2) -> float | None:
    """Median ``train/graphs_per_s`` of a run's ``metrics.csv`` (the first rows, with start-up cost, skipped)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        return None
    with open(path) as fh:
        vals = [float(r["train/graphs_per_s"]) for r in csv.DictReader(fh) if r.get("train/graphs_per_s")]
    vals = sorted(vals[skip_rows:] or vals)
    return vals[len(vals) // 2] if vals else None


def steps_for_budget(rate_graphs_s: float | None, batch_size: int, seconds: float, default: int) -> int:
    """Updates that fit in ``seconds`` at the probed throughput (``default`` without a probe), so the
    learning-rate schedule completes inside the budget (95 %, leaving room for validation and checkpoints)."""
    if not rate_graphs_s:
        return int(default)
    return max(1, int(0.95 * seconds * rate_graphs_s / batch_size))


def last_checkpoint(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / "last.pt"


def read_json(path: Path) -> dict | None:
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def gpu_info() -> dict:
    try:
        import torch

        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            return {"device": p.name, "memory_gib": round(p.total_memory / 2**30, 1), "torch": torch.__version__}
        return {"device": "cpu (no CUDA device visible)", "torch": torch.__version__}
    except ImportError:
        return {"device": "unknown (torch not importable)"}
