"""The processed-dataset cache: ``<root>/<name>/<settings hash>/``.

Each folder holds ``processed/<split>.pt`` (compact graph stores), ``spec.json`` and ``meta.json``
(the settings that made them, their hash, the spec, the training statistics and the build report).
``meta.json`` is written last, so a folder is used only when it is complete and its recorded
settings equal the requested ones; any change of settings, spec or source file selects a fresh folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

from graph_energy.data.build import BuildResult

__all__ = ["file_identity", "settings_hash", "exclusive", "read_meta", "write_cache"]

log = logging.getLogger(__name__)


def file_identity(path: Path) -> dict:
    """What identifies a raw file in the settings: its SHA-256 up to 32 MiB, else size and mtime."""
    st = path.stat()
    if st.st_size <= 32 * 2 ** 20:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return {"file": path.name, "sha256": digest}
    return {"file": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _json(settings: dict) -> dict:
    return json.loads(json.dumps(settings, default=str))


def settings_hash(settings: dict) -> str:
    """16 hex digits of the SHA-256 of the settings' sorted JSON (the cache folder name)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


@contextmanager
def exclusive(cache_dir: Path):
    """Hold an exclusive lock on ``cache_dir`` (concurrent loaders, e.g. data-parallel ranks, build once)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:  # non-POSIX: no cross-process lock
            pass
        yield


def read_meta(cache_dir: Path, settings: dict) -> dict | None:
    """The folder's metadata if it is complete and was made with exactly ``settings``, else ``None``."""
    path = cache_dir / "meta.json"
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        log.warning("unreadable cache metadata %s; rebuilding", path)
        return None
    if meta.get("settings") != _json(settings):
        log.warning("cache %s was made with other settings; rebuilding", cache_dir)
        return None
    files = [cache_dir / "processed" / f"{s}.pt" for s in meta.get("report", {}).get("split_sizes", {})]
    if not files or not all(f.is_file() for f in files):
        return None
    return meta


def write_cache(cache_dir: Path, settings: dict, result: BuildResult) -> dict:
    """Save the stores, then ``meta.json`` (last, atomically) and ``spec.json``; returns the metadata."""
    processed = cache_dir / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    (cache_dir / "meta.json").unlink(missing_ok=True)
    for split, store in result.stores.items():
        store.save(processed / f"{split}.pt")
    meta = {"settings": _json(settings), "settings_hash": settings_hash(settings),
            "spec": result.spec.to_dict(), "stats": result.stats.to_dict(), "report": result.report}
    tmp = cache_dir / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(tmp, cache_dir / "meta.json")
    result.spec.save(cache_dir / "spec.json")
    return meta
