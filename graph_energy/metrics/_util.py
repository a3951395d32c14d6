"""Shared helpers of the metrics: SMILES parsing, on-disk cache, process-parallel map."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import multiprocessing as mp
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger

__all__ = ["parse_smiles", "canonical", "cache_dir", "smiles_key", "cached_npz", "cached_json",
           "parallel_map", "chunks"]

log = logging.getLogger(__name__)

# Work below this size runs in-process: a worker pool does not pay for itself.
PARALLEL_MIN_ITEMS = 4000


def parse_smiles(smiles) -> Chem.Mol | None:
    """RDKit molecule from a SMILES string (sanitised), or ``None`` for anything unparsable or empty.

    Never raises: non-strings, empty strings and RDKit errors all give ``None``.
    """
    if not isinstance(smiles, str):
        return None
    smiles = smiles.strip()
    if not smiles:
        return None
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles)
    except Exception:  # noqa: BLE001 - RDKit raises assorted runtime errors on broken input
        mol = None
    finally:
        RDLogger.EnableLog("rdApp.*")
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def canonical(mol: Chem.Mol | None) -> str | None:
    """Canonical non-isomeric SMILES (graph models carry no stereo), ``None`` on failure."""
    if mol is None:
        return None
    try:
        smi = Chem.MolToSmiles(mol, isomericSmiles=False)
    except Exception:  # noqa: BLE001
        return None
    return smi or None


def cache_dir(sub: str) -> Path:
    """``$GEM_CACHE_DIR/<sub>`` (default ``~/.cache/graph_energy/<sub>``), created on demand."""
    root = os.environ.get("GEM_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "graph_energy")
    path = Path(root) / sub
    path.mkdir(parents=True, exist_ok=True)
    return path


def smiles_key(smiles: Iterable[str], *extra: str) -> str:
    """sha256 over the SMILES (in order, newline separated) and any extra tags (e.g. a version)."""
    h = hashlib.sha256()
    for tag in extra:
        h.update(tag.encode())
        h.update(b"\0")
    for s in smiles:
        h.update(str(s).encode())
        h.update(b"\n")
    return h.hexdigest()


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; cache files are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def cached_npz(sub: str, key: str, compute: Callable[[], dict[str, np.ndarray]],
               use_cache: bool = True) -> dict[str, np.ndarray]:
    """Load ``<cache>/<sub>/<key>.npz`` or compute the arrays and store them atomically."""
    if not use_cache:
        return compute()
    path = cache_dir(sub) / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except Exception as err:  # noqa: BLE001 - a corrupt cache entry is recomputed
            log.warning("ignoring unreadable cache file %s (%s)", path, err)
    arrays = compute()

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    _atomic_write(path, write)
    return arrays


def cached_json(sub: str, key: str, compute: Callable[[], object], use_cache: bool = True):
    """Load ``<cache>/<sub>/<key>.json.gz`` or compute a JSON-able object and store it atomically."""
    if not use_cache:
        return compute()
    path = cache_dir(sub) / f"{key}.json.gz"
    if path.exists():
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return json.load(fh)
        except Exception as err:  # noqa: BLE001
            log.warning("ignoring unreadable cache file %s (%s)", path, err)
    obj = compute()

    def write(tmp: str) -> None:
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as fh:
            json.dump(obj, fh)

    _atomic_write(path, write)
    return obj


def chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, int(os.environ.get("GEM_EVAL_JOBS", "2"))))


def _pool_context():
    # fork: workers start instantly and need no ``if __name__ == "__main__"`` guard in user scripts;
    # they only run RDKit/EDeN/NumPy code (never torch), which is fork-safe. Spawn elsewhere.
    if "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("spawn")


def parallel_map(fn: Callable[[Sequence], list], items: Sequence, n_jobs: int | None = None,
                 chunk_size: int = 1000, progress: bool = False, desc: str = "") -> list:
    """``fn`` applied to consecutive chunks of ``items`` (``fn`` maps a chunk to a list), concatenated.

    Runs in ``n_jobs`` spawned processes when the input is large enough to pay for the start-up
    (``fn`` must be picklable: a module-level function or a ``partial`` of one); results keep the input order.
    """
    n_jobs = _default_jobs() if n_jobs is None else max(1, int(n_jobs))
    parts = chunks(items, chunk_size)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=desc, unit="mol", leave=False)
    out: list = []
    try:
        if n_jobs == 1 or len(items) < PARALLEL_MIN_ITEMS:
            for part in parts:
                out.extend(fn(part))
                if bar is not None:
                    bar.update(len(part))
        else:
            with _pool_context().Pool(n_jobs) as pool:
                for part, res in zip(parts, pool.imap(fn, parts)):
                    out.extend(res)
                    if bar is not None:
                        bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()
    return out
