"""The output folder of ``gem-sample``: checked before sampling, written batch by batch, resumable.

Finished batches are appended to ``samples.smi`` and ``samples.csv`` as they come, and
``progress.json`` records how many batches are complete (rewritten atomically after each append).
An interrupted run therefore keeps every finished batch, and ``resume=true`` continues it: rows
past the recorded count (a batch cut mid-append) are dropped and sampling restarts at the next batch,
which gives the same molecules as an uninterrupted run (every batch has its own seed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import torch

__all__ = ["SampleOutput", "OUTPUT_FILES", "summarize"]

#: Files gem-sample writes; an ``out=`` folder holding any of them is refused unless overwrite/resume.
OUTPUT_FILES = ("samples.smi", "samples.csv", "progress.json", "summary.json", "samples.png", "metrics.md",
                "metrics.json")

# Options that do not change the samples (everything else must match to resume a run).
_NOT_SAMPLING = {"out", "overwrite", "resume", "grid", "metrics", "eval_protocol", "n_jobs", "progress", "log_level",
                 "workers", "num_threads", "check_term_ranges"}
_FILE_OPTIONS = ("ckpt", "sampler_file", "calibration")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def sampling_key(cfg: dict, ckpt: Path) -> dict:
    """The options that determine the samples, with the checkpoint and any sampler/calibration file
    replaced by a digest of their content (a run may only be resumed with the same key)."""
    key = {k: v for k, v in cfg.items() if k not in _NOT_SAMPLING}
    key["ckpt"] = f"{Path(ckpt).name}:{_digest(Path(ckpt))}" if Path(ckpt).is_file() else str(ckpt)
    for name in _FILE_OPTIONS[1:]:
        if cfg.get(name) and Path(cfg[name]).expanduser().is_file():
            key[name] = _digest(Path(cfg[name]).expanduser())
    return json.loads(json.dumps(key, sort_keys=True, default=str))


def _atomic_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class SampleOutput:
    """One ``out=`` folder.

    Args:
        folder: the folder (created if missing).
        key: :func:`sampling_key` of the run.
        num_samples, batch_size: the run's size (with ``key`` they decide what may be resumed).
        overwrite: replace the files of an earlier run.
        resume: continue the run recorded in the folder.
    """

    def __init__(self, folder: Path, key: dict, num_samples: int, batch_size: int, overwrite: bool = False,
                 resume: bool = False) -> None:
        self.folder = Path(folder).expanduser()
        self.key = key
        self.num_samples, self.batch_size = int(num_samples), int(batch_size)
        self.num_batches = -(-self.num_samples // self.batch_size)
        self.overwrite, self.resume = bool(overwrite), bool(resume)
        self.batches_done = 0
        self.rows_done = 0
        self.sampling_s = 0.0
        self.created = False
        self._columns: list[str] | None = None

    # ------------------------------------------------------------------ before sampling
    def prepare(self) -> int:
        """Check the folder can be written, refuse or clear an earlier run, or load its progress.

        Returns the number of batches already done (0 for a fresh run). Raises ``ValueError`` with
        the fix when the folder is a file, cannot be written, or holds another run.
        """
        out = self.folder
        if out.exists() and not out.is_dir():
            raise ValueError(f"out={out} is a file; pass a folder (out=samples/) or out=null")
        try:
            self.created = not out.exists()
            out.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=out, prefix=".write-test.")
            os.close(fd)
            os.remove(probe)
        except OSError as err:
            raise ValueError(f"cannot write to out={out} ({err.strerror or err}); pass a writable folder "
                             "(out=<dir>) or out=null") from None
        existing = [f for f in OUTPUT_FILES if (out / f).exists()]
        if self.resume:
            return self._load_progress(existing)
        if existing and not self.overwrite:
            raise ValueError(f"out={out} already holds samples ({', '.join(existing)}); pass overwrite=true to "
                             "replace them, resume=true to continue that run, or another out=")
        for f in existing:
            (out / f).unlink()
        return 0

    def _load_progress(self, existing: list[str]) -> int:
        path = self.folder / "progress.json"
        if not path.is_file():
            if [f for f in existing if f != "progress.json"] and not self.overwrite:
                raise ValueError(f"resume=true: out={self.folder} holds samples but no progress.json (written by "
                                 "an older gem-sample); pass overwrite=true to start again")
            for f in existing:
                (self.folder / f).unlink()
            return 0
        try:
            state = json.loads(path.read_text())
            done, key = int(state["batches_done"]), state["key"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"resume=true: unreadable {path} ({err}); pass overwrite=true to start again") from None
        if key != self.key:
            diff = sorted(k for k in set(key) | set(self.key) if key.get(k) != self.key.get(k))
            shown = ", ".join(f"{k}={key.get(k)!r} (now {self.key.get(k)!r})" for k in diff[:3])
            raise ValueError(f"resume=true: out={self.folder} was sampled with other options: {shown}; rerun with "
                             "the same options, or pass overwrite=true / another out=")
        self.batches_done = min(done, self.num_batches)
        self.rows_done = min(self.batches_done * self.batch_size, self.num_samples)
        self.sampling_s = float(state.get("sampling_s", 0.0))
        self._truncate(self.rows_done)
        return self.batches_done

    def _truncate(self, rows: int) -> None:
        """Keep the first ``rows`` samples of both files (a batch cut mid-append is dropped)."""
        smi, csv_path = self.folder / "samples.smi", self.folder / "samples.csv"
        lines = smi.read_text().split("\n")[:rows] if smi.exists() else []
        if len(lines) < rows or not csv_path.exists():
            raise ValueError(f"resume=true: {smi} holds fewer samples than progress.json records; "
                             "pass overwrite=true to start again")
        _atomic_text(smi, "".join(f"{s}\n" for s in lines))
        with open(csv_path, newline="") as fh:
            reader = csv.DictReader(fh)
            self._columns = list(reader.fieldnames or [])
            kept = [r for _, r in zip(range(rows), reader)]
        if len(kept) < rows:
            raise ValueError(f"resume=true: {csv_path} holds fewer rows than progress.json records; "
                             "pass overwrite=true to start again")
        _atomic_text(csv_path, _csv_text(self._columns, kept, header=True))

    # ------------------------------------------------------------------ while sampling
    def append(self, result, sampling_s: float = 0.0) -> None:
        """Append one finished batch (a :class:`~graph_energy.samplers.SampleResult`) to both files,
        then record it in ``progress.json``."""
        rows = batch_records(result)
        cols = list(rows[0])
        path = self.folder / "samples.csv"
        if self._columns is None or not path.exists():
            self._columns = cols
            text = _csv_text(cols, rows, header=True)
            mode = "w"
        elif any(c not in self._columns for c in cols):  # a counter first seen in this batch: widen the table
            old = self.read_rows()
            self._columns = self._columns + [c for c in cols if c not in self._columns]
            _atomic_text(path, _csv_text(self._columns, old, header=True))
            text, mode = _csv_text(self._columns, rows, header=False), "a"
        else:
            text, mode = _csv_text(self._columns, rows, header=False), "a"
        with open(self.folder / "samples.smi", "a") as fh:
            fh.write("".join(f"{r['smiles']}\n" for r in rows))
        with open(path, mode, newline="") as fh:
            fh.write(text)
        self.batches_done += 1
        self.rows_done += len(rows)
        self.sampling_s += float(sampling_s)
        _atomic_text(self.folder / "progress.json", json.dumps({
            "batches_done": self.batches_done, "num_batches": self.num_batches, "samples_done": self.rows_done,
            "num_samples": self.num_samples, "sampling_s": round(self.sampling_s, 3), "key": self.key}, indent=1))

    # ------------------------------------------------------------------ after sampling
    def read_rows(self) -> list[dict]:
        """Every sample row written so far (CSV values parsed back to numbers and booleans)."""
        with open(self.folder / "samples.csv", newline="") as fh:
            return [_parse_row(r) for r in csv.DictReader(fh)]

    def remove_if_unused(self) -> None:
        """Remove the folder again if this run created it and wrote nothing into it."""
        if self.created and self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()


def batch_records(result) -> list[dict]:
    """``result.records()`` plus each chain's MH ``proposals`` (so acceptance can be recomputed from rows)."""
    rows = result.records()
    for row, p in zip(rows, result.proposals.tolist()):
        row["proposals"] = int(p)
    return rows


def _csv_text(columns: list[str], rows: list[dict], header: bool) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    if header:
        w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _parse_row(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if k == "smiles" or k.endswith("_reason"):
            out[k] = v
        elif v in ("True", "False"):
            out[k] = v == "True"
        elif v == "":
            out[k] = None
        else:
            try:
                out[k] = int(v)
            except ValueError:
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
    return out


def summarize(rows: list[dict], wall_time: float, phases: list[str]) -> dict:
    """The figures of :meth:`SampleResult.summary` from per-sample rows (as written to ``samples.csv``).

    ``uniqueness_smiles`` is the fraction of distinct whole SMILES among the valid samples (the
    protocol's ``uniqueness``, under ``metrics``, counts largest fragments); ``phases`` are the
    sampler's phase names, in order.
    """
    n = len(rows)
    valid = [r["smiles"] for r in rows if r["valid"]]

    def col(name: str, dtype=torch.float64) -> torch.Tensor:
        return torch.tensor([r.get(name) or 0 for r in rows], dtype=dtype)

    mh = int(col("proposals", torch.long).sum())
    out = {
        "num_samples": n,
        "validity": len(valid) / n if n else 0.0,
        "connected_validity": float(torch.tensor([bool(r["connected"]) for r in rows]).double().mean()) if n else 0.0,
        "uniqueness_smiles": len(set(valid)) / len(valid) if valid else 0.0,
        "valid_unique": len(set(valid)) / n if n else 0.0,
        "molecules_per_s": n / wall_time if wall_time > 0 else float("nan"),
        "evaluations_per_molecule": float(col("evaluations").mean()) if n else 0.0,
        "acceptance_rate": int(col("accepted", torch.long).sum()) / mh if mh else float("nan"),
        "noop_rate": int(col("noops", torch.long).sum()) / mh if mh else float("nan"),
    }
    for name in ("transport", "mixing", *[p for p in phases if p not in ("transport", "mixing")]):
        steps = col(f"{name}_steps", torch.long) if f"{name}_steps" in rows[0] else torch.zeros(n, dtype=torch.long)
        out[f"mean_{name}_steps"] = float(steps.double().mean()) if n else 0.0
    out["mean_energy"] = float(torch.tensor([r["energy"] for r in rows], dtype=torch.float32).double().mean()) \
        if n else float("nan")
    from graph_energy.samplers.switch import SwitchReason

    reasons = [r["switch_reason"] for r in rows]
    out["switch_reasons"] = {name: reasons.count(name) for name in SwitchReason.NAMES.values()}
    return out
