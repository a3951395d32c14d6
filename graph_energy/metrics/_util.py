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
           "parallel_map", "chunks", "shipped_path", "pack_arrays", "unpack_arrays", "SHIPPED_DIR"]

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


#: Reference statistics shipped with the package (read-only, looked up before the user cache): the
#: cache entries the bundled model's first evaluation needs, under the same keys (sha256 of the exact
#: reference SMILES and the featurisation version), so they are used only where they are exact.
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "assets" / "reference"


def shipped_path(sub: str, key: str, suffix: str) -> Path | None:
    """``graph_energy/assets/reference/<sub>/<key><suffix>`` if the package ships it, else ``None``."""
    path = SHIPPED_DIR / sub / f"{key}{suffix}"
    return path if path.is_file() else None


def pack_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Compact form of cache arrays for shipping: float arrays as float32, square symmetric float
    matrices as their upper triangle (``<name>@triu``). Relative rounding ~6e-8 (FCD changes by ~1e-7)."""
    out = {}
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind == "f" and arr.ndim == 2 and arr.shape[0] == arr.shape[1] and np.array_equal(arr, arr.T):
            out[f"{name}@triu"] = arr[np.triu_indices(arr.shape[0])].astype(np.float32)
        elif arr.dtype.kind == "f" and arr.size > 1024:
            out[name] = arr.astype(np.float32)
        else:
            out[name] = arr
    return out


def unpack_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of :func:`pack_arrays` (values back in float64)."""
    out = {}
    for name, arr in arrays.items():
        if name.endswith("@triu"):
            d = int((np.sqrt(8 * arr.size + 1) - 1) / 2)
            full = np.zeros((d, d))
            full[np.triu_indices(d)] = arr
            out[name[:-5]] = full + np.triu(full, 1).T
        else:
            out[name] = arr.astype(np.float64) if arr.dtype == np.float32 else arr
    return out


def cached_npz(sub: str, key: str, compute: Callable[[], dict[str, np.ndarray]],
               use_cache: bool = True) -> dict[str, np.ndarray]:
    """Load the shipped ``<sub>/<key>.npz`` (see :data:`SHIPPED_DIR`) or ``<cache>/<sub>/<key>.npz``, or
    compute the arrays and store them atomically in the cache."""
    if not use_cache:
        return compute()
    shipped = shipped_path(sub, key, ".npz")
    if shipped is not None:
        try:
            with np.load(shipped, allow_pickle=False) as data:
                return unpack_arrays({k: data[k] for k in data.files})
        except Exception as err:  # noqa: BLE001 - fall back to the user cache
            log.warning("ignoring unreadable shipped statistics %s (%s)", shipped, err)
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
    """Load the shipped ``<sub>/<key>.json.gz`` (see :data:`SHIPPED_DIR`) or ``<cache>/<sub>/<key>.json.gz``,
    or compute a JSON-able object and store it atomically in the cache."""
    if not use_cache:
        return compute()
    for path in (shipped_path(sub, key, ".json.gz"), None):
        path = path or cache_dir(sub) / f"{key}.json.gz"
        if not path.exists():
            continue
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return json.load(fh)
        except Exception as err:  # noqa: BLE001
            log.warning("ignoring unreadable cache file %s (%s)", path, err)
    path = cache_dir(sub) / f"{key}.json.gz"
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
