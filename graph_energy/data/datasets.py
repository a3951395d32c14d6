"""``load_dataset``: raw source -> processed, cached splits -> :class:`MolecularData`.

The cache lives in ``<root>/<name>/<settings hash>/`` (``root``: argument, else ``$GEM_DATA_DIR``,
else ``~/.cache/graph_energy``): ``processed/<split>.pt`` (compact graph stores) and ``meta.json``
(the settings that made them, their hash, the spec, the training statistics and the build report).
``meta.json`` is written last, so a cache is used only when it is complete and its recorded settings
equal the requested ones; any change of settings, spec or source file selects a fresh directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from graph_energy.data.build import build_splits
from graph_energy.data.download import ZINC250K_CSV, ZINC250K_TEST_IDX, fetch
from graph_energy.data.sources import (
    MOSES_PACKAGE_HINT,
    QM9_PACKAGE_HINT,
    RawSplits,
    package_data_dir,
    read_moses,
    read_qm9,
    read_smiles_file,
    read_zinc250k,
)
from graph_energy.data.spec import MolecularSpec
from graph_energy.data.stats import DatasetStats
from graph_energy.data.store import MolecularGraphDataset

__all__ = ["MolecularData", "load_dataset", "default_data_root", "DATASETS"]

log = logging.getLogger(__name__)

#: Bump when the processed format or the processing semantics change (invalidates every cache).
FORMAT_VERSION = 1
DATASETS = ("qm9", "moses", "zinc250k", "smiles")
_ALIASES = {"zinc": "zinc250k", "zinc250": "zinc250k", "file": "smiles", "csv": "smiles"}
_OPTIONS = {"name", "path", "root", "kekulize", "max_nodes", "spec", "workers", "force_reload", "seed",
            "num_train", "smiles_column", "split_column", "split_fractions", "test_idx_path", "sha256", "chunk_size"}


def default_data_root() -> Path:
    """``$GEM_DATA_DIR`` or ``~/.cache/graph_energy`` (never relative to the working directory)."""
    env = os.environ.get("GEM_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "graph_energy"


@dataclass
class MolecularData:
    """A prepared molecular dataset.

    Attributes:
        spec: frozen vocabulary and size limit (derived from the training split or given).
        splits: ``{"train", "val", "test", ...}`` PyG datasets (extra splits such as MOSES's
            ``test_scaffolds`` are kept here too; a missing ``val`` aliases ``test``).
        stats: training-split statistics.
        report: what was read, kept and dropped (see :func:`graph_energy.data.build.build_splits`).
        cache_dir: the processed folder.
        cache_hit: whether the processed files were reused.
        seconds: time taken by :func:`load_dataset`.
    """

    spec: MolecularSpec
    splits: dict[str, MolecularGraphDataset]
    stats: DatasetStats
    report: dict
    cache_dir: Path
    cache_hit: bool = False
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    @property
    def train(self) -> MolecularGraphDataset:
        return self.splits["train"]

    @property
    def val(self) -> MolecularGraphDataset:
        return self.splits["val"] if "val" in self.splits else self.splits["test"]

    @property
    def test(self) -> MolecularGraphDataset:
        return self.splits["test"] if "test" in self.splits else self.splits["val"]

    def summary(self) -> dict:
        """Plain-data summary (the ``gem-data`` output line)."""
        r = self.report
        return {"dataset": r["dataset"], "protocol": r.get("protocol"), "rows_read": r["rows_read"],
                "split_sizes": {k: len(v) for k, v in self.splits.items()}, "dropped": r["dropped"],
                "dropped_total": r["dropped_total"], "round_trip_rate": r["round_trip_rate"],
                "vocabulary": r["vocabulary"], "kekulize": r["kekulize"], "max_nodes": self.spec.max_nodes,
                "seconds": round(self.seconds, 3), "cache_hit": self.cache_hit, "cache_dir": str(self.cache_dir)}


# ------------------------------------------------------------------------------------------ helpers
def _plain(v):
    """Mapping/sequence config values (e.g. OmegaConf containers) as plain dicts/lists."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)) or type(v).__name__ == "ListConfig":
        return [_plain(x) for x in v]
    return v


def _file_identity(path: Path) -> dict:
    st = path.stat()
    if st.st_size <= 32 * 2 ** 20:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return {"file": path.name, "sha256": digest}
    return {"file": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _split_settings(ds: str, opts: dict) -> dict:
    """The split options that matter for ``ds``, with defaults filled in (so equal splits hash equally)."""
    if ds == "qm9":
        return {"seed": opts.get("seed") if opts.get("seed") is not None else 42,
                "num_train": opts.get("num_train") or 100_000}
    if ds == "smiles":
        return {"seed": opts.get("seed") or 0, "smiles_column": opts.get("smiles_column"),
                "split_column": opts.get("split_column"),
                "split_fractions": None if opts.get("split_column") else (
                    opts.get("split_fractions") or {"train": 0.8, "val": 0.1, "test": 0.1})}
    return {}


def _resolve_spec(spec) -> MolecularSpec | None:
    if spec is None or isinstance(spec, MolecularSpec):
        return spec
    if isinstance(spec, Mapping):
        return MolecularSpec.from_dict(_plain(spec))
    return MolecularSpec.load(Path(spec).expanduser())


def _source(name: str, opts: dict, root: Path) -> tuple[list[Path], callable]:
    """Files the dataset reads and a zero-argument reader returning :class:`RawSplits`."""
    path = opts.get("path")
    if name == "qm9":
        if path:
            files = [Path(p).expanduser() for p in (path if isinstance(path, list) else [path])]
        else:
            folder = package_data_dir("qm9pack", "data", hint=QM9_PACKAGE_HINT)
            files = [folder / f"qm9_part{i}.csv" for i in (1, 2, 3)]
        sp = _split_settings(name, opts)
        return files, lambda: read_qm9(files, sp["num_train"], sp["seed"])
    if name == "moses":
        folder = Path(path).expanduser() if path else package_data_dir("moses", "dataset", "data",
                                                                       hint=MOSES_PACKAGE_HINT)
        files = [folder / f"{s}.csv.gz" for s in ("train", "test", "test_scaffolds")]
        return files, lambda: read_moses(folder)
    if name == "zinc250k":
        sha = opts.get("sha256") or {}
        raw_dir = root / "zinc250k" / "raw"
        csv = Path(path).expanduser() if path else fetch(ZINC250K_CSV, raw_dir, sha.get("csv"), config_key="dataset.path")
        tip = opts.get("test_idx_path")
        idx = Path(tip).expanduser() if tip else fetch(ZINC250K_TEST_IDX, raw_dir, sha.get("test_idx"),
                                                       config_key="dataset.test_idx_path")
        return [csv, idx], lambda: read_zinc250k(csv, idx)
    if name == "smiles":
        if not path:
            raise ValueError("dataset 'smiles' needs a file: pass dataset.path=<file.smi|file.csv>")
        p = Path(path).expanduser()
        sp = _split_settings(name, opts)
        return [p], lambda: read_smiles_file(p, sp["smiles_column"], sp["split_column"], sp["split_fractions"],
                                             sp["seed"])
    raise ValueError(f"unknown dataset {name!r}; choose one of {list(DATASETS)} (or dataset=smiles with "
                     "dataset.path=<file> for your own SMILES)")


# --------------------------------------------------------------------------------------------- main
def load_dataset(name=None, **kwargs) -> MolecularData:
    """Prepare (or load from cache) a molecular dataset.

    Args:
        name: ``"qm9"``, ``"moses"``, ``"zinc250k"``, ``"smiles"``, or a mapping of all options
            (e.g. a Hydra ``dataset`` config; ``_target_`` is ignored).
        path: local source file(s) instead of the data package / download (required for ``smiles``).
        root: cache root (default :func:`default_data_root`).
        kekulize: store aromatic rings as alternating single/double bonds (default ``True``).
        max_nodes: size limit (default: largest training molecule); larger molecules are dropped.
        spec: a :class:`MolecularSpec`, its dict, or a JSON path: fixes vocabulary, bonds, size limit.
        workers: processes used to encode large inputs (default 2).
        force_reload: rebuild even if a matching cache exists.
        seed, num_train: QM9 split parameters (42, 100,000) or the user-file random split seed.
        smiles_column, split_column, split_fractions: user-file options.
        test_idx_path, sha256: ZINC250k test-index file and checksum overrides ``{"csv", "test_idx"}``.
    """
    t0 = time.perf_counter()
    opts = _plain(dict(name)) if isinstance(name, Mapping) else {"name": name}
    opts.update(_plain(kwargs))
    opts.pop("_target_", None)
    unknown = set(opts) - _OPTIONS
    if unknown:
        raise ValueError(f"unknown dataset option(s) {sorted(unknown)}; allowed: {sorted(_OPTIONS)}")
    if not isinstance(opts.get("name"), str):
        raise ValueError(f"dataset name must be a string, got {opts.get('name')!r}; choose one of {list(DATASETS)}")
    ds = _ALIASES.get(opts["name"].lower(), opts["name"].lower())
    root = Path(opts["root"]).expanduser() if opts.get("root") else default_data_root()
    spec = _resolve_spec(opts.get("spec"))
    files, reader = _source(ds, opts, root)
    for f in files:
        if not f.is_file():
            raise ValueError(f"data file {f} does not exist; check dataset.path (or reinstall the data package)")
    settings = {
        "format": FORMAT_VERSION, "dataset": ds,
        "kekulize": spec.kekulize if spec else bool(opts.get("kekulize", True)),
        "max_nodes": spec.max_nodes if spec else opts.get("max_nodes"),
        "spec": spec.to_dict() if spec else None,
        "sources": [_file_identity(f) for f in files],
        "split": _split_settings(ds, opts),
        "rdkit": metadata.version("rdkit"),
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
    cache_dir = root / ds / digest
    meta_path = cache_dir / "meta.json"
    meta = None if opts.get("force_reload", False) else _read_meta(meta_path, settings)
    hit = meta is not None
    if not hit:
        with _exclusive(cache_dir):  # concurrent loaders (e.g. data-parallel ranks) build once
            meta = None if opts.get("force_reload", False) else _read_meta(meta_path, settings)
            hit = meta is not None
            if not hit:
                meta = _build(ds, reader, settings, digest, spec, opts, cache_dir)
    spec_obj = MolecularSpec.from_dict(meta["spec"])
    splits = {s: MolecularGraphDataset(cache_dir, s, spec_obj.num_atom_types, spec_obj.num_bond_types)
              for s in meta["report"]["split_sizes"]}
    data = MolecularData(spec_obj, splits, DatasetStats.from_dict(meta["stats"]), meta["report"], cache_dir,
                         hit, time.perf_counter() - t0, settings)
    log.info("dataset %s: %s (%.1f s, cache %s)", ds, data.report["split_sizes"], data.seconds,
             "hit" if hit else "built")
    return data


@contextmanager
def _exclusive(cache_dir: Path):
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:  # non-POSIX: no cross-process lock
            pass
        yield


def _read_meta(path: Path, settings: dict) -> dict | None:
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        log.warning("unreadable cache metadata %s; rebuilding", path)
        return None
    if meta.get("settings") != json.loads(json.dumps(settings, default=str)):
        log.warning("cache %s was made with other settings; rebuilding", path.parent)
        return None
    files = [path.parent / "processed" / f"{s}.pt" for s in meta.get("report", {}).get("split_sizes", {})]
    if not files or not all(f.is_file() for f in files):
        return None
    return meta


def _build(ds: str, reader, settings: dict, digest: str, spec, opts: dict, cache_dir: Path) -> dict:
    log.info("processing dataset %s into %s", ds, cache_dir)
    raw: RawSplits = reader()
    result = build_splits(raw, ds, kekulize=settings["kekulize"], max_nodes=settings["max_nodes"], spec=spec,
                          workers=int(opts.get("workers", 2) or 1), chunk_size=int(opts.get("chunk_size", 2000)))
    processed = cache_dir / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    (cache_dir / "meta.json").unlink(missing_ok=True)
    for split, store in result.stores.items():
        store.save(processed / f"{split}.pt")
    meta = {"settings": json.loads(json.dumps(settings, default=str)), "settings_hash": digest,
            "spec": result.spec.to_dict(), "stats": result.stats.to_dict(), "report": result.report}
    tmp = cache_dir / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(tmp, cache_dir / "meta.json")
    result.spec.save(cache_dir / "spec.json")
    return meta
