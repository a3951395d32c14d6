"""``load_dataset``: a :class:`~graph_energy.data.sources.DatasetSource` -> processed, cached splits ->
:class:`MolecularData`.

A dataset config names its source by ``_target_`` plus the processing options shared by every
dataset (``conf/dataset/*.yaml``)::

    _target_: graph_energy.data.load_dataset
    source:
      _target_: graph_energy.data.sources.QM9Source
      seed: 42
    root: null          # cache root (default: $GEM_DATA_DIR or ~/.cache/graph_energy)
    kekulize: true
    max_nodes: null
    spec: null
    policy: null        # vocabulary and size rules (null: the source's default; see graph_energy.data.policy)
    workers: 2
    force_reload: false

Older configs (and checkpoints) name a library dataset instead, ``name: qm9`` with the source's
arguments beside the options; both forms give the same :class:`DatasetConfig`. The pipeline reads
the source, encodes every SMILES with the encoder (by default :mod:`graph_energy.chem`'s, bound by
name so this package never imports it), derives the vocabulary from the training split and caches
the result (:mod:`graph_energy.data.cache`).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from graph_energy.config import instantiate, locate
from graph_energy.data.build import build_splits
from graph_energy.data.cache import exclusive, file_identity, read_meta, settings_hash, write_cache
from graph_energy.data.policy import MoleculePolicy
from graph_energy.data.sources.base import DatasetSource, check_data_file, plain
from graph_energy.data.sources.registry import SOURCES, source_class
from graph_energy.data.spec import MolecularSpec
from graph_energy.data.stats import DatasetStats
from graph_energy.data.store import MolecularGraphDataset

__all__ = ["MolecularData", "DatasetConfig", "load_dataset", "default_data_root", "DATASET_OPTIONS",
           "DEFAULT_ENCODER"]

log = logging.getLogger(__name__)

#: Bump when the processed format or the processing semantics change (invalidates every cache).
FORMAT_VERSION = 1
#: The processing options of a dataset config (everything else belongs to the source).
DATASET_OPTIONS = ("root", "kekulize", "max_nodes", "spec", "policy", "workers", "chunk_size", "force_reload",
                   "encoder", "labels", "labels_half")
#: The chunk encoder (see :mod:`graph_energy.data.encoded`), named so that ``data`` never imports ``chem``.
DEFAULT_ENCODER = "graph_energy.chem.encode.encode_chunk"


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

    def split(self, name: str) -> MolecularGraphDataset:
        """One split by name (``val`` and ``test`` alias each other when one is missing)."""
        if name == "val":
            return self.val
        if name == "test":
            return self.test
        if name not in self.splits:
            raise ValueError(f"dataset {self.spec.name!r} has no split {name!r}; available: {sorted(self.splits)}")
        return self.splits[name]

    def summary(self) -> dict:
        """Plain-data summary (the ``gem-data`` output line)."""
        r = self.report
        return {"dataset": r["dataset"], "protocol": r.get("protocol"), "rows_read": r["rows_read"],
                "split_sizes": {k: len(v) for k, v in self.splits.items()}, "dropped": r["dropped"],
                "dropped_total": r["dropped_total"], "dropped_elements": r.get("dropped_elements", {}),
                "modified_total": r.get("modified_total", {}), "round_trip_rate": r["round_trip_rate"],
                "vocabulary": r["vocabulary"], "kekulize": r["kekulize"], "max_nodes": self.spec.max_nodes,
                "max_nodes_rule": r.get("max_nodes_rule"), "policy": r.get("policy"),
                "warnings": r.get("warnings", []), "seconds": round(self.seconds, 3), "cache_hit": self.cache_hit,
                "cache_dir": str(self.cache_dir)}




# ------------------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class DatasetConfig:
    """What :func:`load_dataset` is asked for: a source and how to process it.

    Attributes:
        source: where the molecules come from and how they are split.
        root: cache root (``None``: :func:`default_data_root`); sources that download keep raw files there too.
        kekulize: store aromatic rings as alternating single/double bonds.
        max_nodes: size limit (``None``: the largest training molecule); larger molecules are dropped.
        spec: a fixed vocabulary, bonds, size limit and kekulization (overrides ``kekulize``/``max_nodes``).
        policy: allowed elements, salts/fragments, isotopes, explicit hydrogens and a size quantile
            (:class:`~graph_energy.data.policy.MoleculePolicy`; ``None``: the source's
            :meth:`~graph_energy.data.sources.DatasetSource.default_policy`).
        workers: processes used to encode large inputs (0 or 1: in this process).
        chunk_size: SMILES per encoding task.
        force_reload: rebuild even if a matching cache exists.
        encoder: dotted name of the chunk encoder (:data:`DEFAULT_ENCODER`; another one is part of
            the cache key).
        labels: per-molecule labels to attach (e.g. ``["mu"]`` for QM9; see
            :mod:`graph_energy.data.labels`); read at load time, not part of the cache key.
        labels_half: keep only one fixed half (0 or 1, by source row id) of the training split.
    """

    source: DatasetSource
    root: Path | None = None
    kekulize: bool = True
    max_nodes: int | None = None
    spec: MolecularSpec | None = None
    policy: MoleculePolicy | None = None
    workers: int = 2
    chunk_size: int = 2000
    force_reload: bool = False
    encoder: str = DEFAULT_ENCODER
    labels: tuple[str, ...] | None = None
    labels_half: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.source, DatasetSource):
            raise TypeError(f"DatasetConfig.source must be a DatasetSource, got {type(self.source).__name__}")
        if not isinstance(self.source.name, str) or not self.source.name:
            raise ValueError(f"{type(self.source).__name__} has no name; set the class attribute name = '...'")
        if self.spec is not None:  # a fixed spec decides the processing
            object.__setattr__(self, "kekulize", self.spec.kekulize)
            object.__setattr__(self, "max_nodes", self.spec.max_nodes)
        for key, lo in (("workers", 0), ("chunk_size", 1), ("max_nodes", 1)):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
                raise ValueError(f"dataset option {key} must be an integer >= {lo}, got {v!r}")
        if self.labels is not None:
            labels = [self.labels] if isinstance(self.labels, str) else list(self.labels)
            object.__setattr__(self, "labels", tuple(str(x) for x in labels) or None)
        if self.labels_half is not None and self.labels_half not in (0, 1):
            raise ValueError(f"dataset option labels_half must be 0, 1 or null, got {self.labels_half!r}")

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, config=None, *, trusted: bool = False, **options) -> DatasetConfig:
        """A :class:`DatasetConfig` from any accepted form.

        Args:
            config: a dataset config mapping (``source: {_target_: ...}`` plus options, or the older
                ``name: <dataset>`` with the source's arguments beside the options), a dataset name
                (``"qm9"``, ``"moses"``, ``"zinc250k"``, ``"smiles"``), a :class:`DatasetSource`, or a
                :class:`DatasetConfig`.
            trusted: the config comes from the user (command line, Python); ``False`` for configs
                read from files such as checkpoints: then only ``graph_energy`` classes (or
                :func:`graph_energy.config.allow_targets` entries) may be built.
            options: more entries of the config (override ``config``'s).

        Raises:
            graph_energy.config.UnsafeTargetError: an untrusted config names a class outside the library.
            ValueError: unknown dataset, unknown option, or bad values.
        """
        if isinstance(config, DatasetConfig):
            return dataclasses.replace(config, **_options(plain(options), trusted)) if options else config
        if isinstance(config, DatasetSource):
            opts = {"source": config}
        elif isinstance(config, str):
            opts = {"name": config}
        elif isinstance(config, Mapping):
            opts = plain(config)
        elif config is None:
            opts = {}
        else:
            raise TypeError(f"a dataset config is a name, a mapping or a DatasetSource, got {type(config).__name__}")
        opts.update(plain(options))
        target = opts.pop("_target_", None)
        if target is not None and locate(target, trusted=trusted) is not load_dataset:
            raise ValueError(f"a dataset config has _target_: graph_energy.data.load_dataset, got {target!r}; "
                             "name the DatasetSource class under source._target_")
        processing = {k: opts.pop(k) for k in DATASET_OPTIONS if k in opts}
        name, node = opts.pop("name", None), opts.pop("source", None)
        if name is not None and node is not None:
            raise ValueError(f"a dataset config names its source once: source={node!r} or name={name!r}, not both")
        if node is not None:
            if opts:
                raise ValueError(f"unknown dataset option(s) {sorted(opts)}: source arguments go under source "
                                 f"(dataset.source.<arg>=...); dataset options are {list(DATASET_OPTIONS)}")
            source = build_source(node, trusted=trusted)
        elif name is not None:
            source = _named_source(name, opts)
        else:
            raise ValueError(f"no dataset source: pass a dataset name ({', '.join(SOURCES)}) or "
                             "source={_target_: <a DatasetSource class>, ...}")
        return cls(source, **_options(processing, trusted))

    # ------------------------------------------------------------------ facts
    @property
    def effective_policy(self) -> MoleculePolicy:
        """The policy this load applies (the source's default when none is given)."""
        return self.policy if self.policy is not None else self.source.default_policy()

    @property
    def data_root(self) -> Path:
        return Path(self.root).expanduser() if self.root else default_data_root()

    def files(self) -> list[Path]:
        """The source's raw files (downloaded if needed), checked to exist."""
        files = [Path(f) for f in self.source.files(self.data_root)]
        for f in files:
            check_data_file(f, "dataset.source.path")
        return files

    def settings(self, files: list[Path]) -> dict:
        """Everything that decides the processed data (hashed into the cache folder name)."""
        out = {
            "format": FORMAT_VERSION, "dataset": self.source.name, "kekulize": self.kekulize,
            "max_nodes": self.max_nodes, "spec": self.spec.to_dict() if self.spec else None,
            "sources": [file_identity(f) for f in files], "split": self.source.split_settings(),
            "rdkit": metadata.version("rdkit"),
        }
        if self.encoder != DEFAULT_ENCODER:
            out["encoder"] = self.encoder
        if self.effective_policy != MoleculePolicy():  # the historical rules keep their cache keys
            out["policy"] = self.effective_policy.to_dict()
        return out

    # ------------------------------------------------------------------ loading
    def load(self) -> MolecularData:
        """Prepare (or load from cache) the dataset."""
        t0 = time.perf_counter()
        files = self.files()
        settings = self.settings(files)
        digest = settings_hash(settings)
        cache_dir = self.data_root / self.source.name / digest
        meta = None if self.force_reload else read_meta(cache_dir, settings)
        hit = meta is not None
        if not hit:
            with exclusive(cache_dir):
                meta = None if self.force_reload else read_meta(cache_dir, settings)
                hit = meta is not None
                if not hit:
                    meta = self._build(files, settings, cache_dir)
        spec = MolecularSpec.from_dict(meta["spec"])
        splits = {s: MolecularGraphDataset(cache_dir, s, spec.num_atom_types, spec.num_bond_types)
                  for s in meta["report"]["split_sizes"]}
        if self.labels:
            from graph_energy.data.labels import attach_labels

            splits = attach_labels(splits, self.source.read_labels(files, list(self.labels)), self.labels,
                                   self.labels_half, self.source.name)
        elif self.labels_half is not None:
            raise ValueError("dataset option labels_half selects the labelled half of the training split; "
                             "it needs labels=[...]")
        data = MolecularData(spec, splits, DatasetStats.from_dict(meta["stats"]), meta["report"], cache_dir,
                             hit, time.perf_counter() - t0, settings)
        log.info("dataset %s: %s (%.1f s, cache %s)", self.source.name, data.report["split_sizes"], data.seconds,
                 "hit" if hit else "built")
        return data

    def _build(self, files: list[Path], settings: dict, cache_dir: Path) -> dict:
        log.info("processing dataset %s into %s", self.source.name, cache_dir)
        raw = self.source.read(files)
        result = build_splits(raw, self.source.name, encode=locate(self.encoder, trusted=True),
                              kekulize=self.kekulize, max_nodes=self.max_nodes, spec=self.spec,
                              workers=self.workers, chunk_size=self.chunk_size, policy=self.effective_policy)
        return write_cache(cache_dir, settings, result)

    def split_smiles(self, split: str) -> list[str]:
        """SMILES of one split as evaluation references: as read from the files if the source's
        :attr:`~DatasetSource.raw_references` (no processing), else the processed split's canonical SMILES."""
        if not self.source.raw_references:
            return self.load().split(split).smiles
        raw = self.source.read(self.files())
        if split not in raw.smiles:
            raise ValueError(f"dataset {self.source.name!r} has no split {split!r}; available: {sorted(raw.smiles)}")
        return list(raw.smiles[split])


def _options(values: dict, trusted: bool) -> dict:
    """Processing options with ``None`` meaning the default (except where ``None`` is a setting)."""
    unknown = set(values) - set(DATASET_OPTIONS)
    if unknown:
        raise ValueError(f"unknown dataset option(s) {sorted(unknown)}; dataset options are {list(DATASET_OPTIONS)}")
    defaults = {f.name: f.default for f in dataclasses.fields(DatasetConfig) if f.name != "source"}
    out = {k: (defaults[k] if v is None and k not in ("root", "max_nodes", "spec", "policy") else v)
           for k, v in values.items()}
    if "kekulize" in out:
        out["kekulize"] = bool(out["kekulize"])
    if "force_reload" in out:
        out["force_reload"] = bool(out["force_reload"])
    if out.get("spec") is not None:
        out["spec"] = _resolve_spec(out["spec"])
    if out.get("policy") is not None:
        out["policy"] = MoleculePolicy.parse(plain(out["policy"]))
    if out.get("encoder", DEFAULT_ENCODER) != DEFAULT_ENCODER:
        locate(out["encoder"], trusted=trusted)  # refuse an untrusted encoder now, not at build time
    return out


def _resolve_spec(spec) -> MolecularSpec:
    if isinstance(spec, MolecularSpec):
        return spec
    if isinstance(spec, Mapping):
        return MolecularSpec.from_dict(plain(spec))
    return MolecularSpec.load(Path(str(spec)).expanduser())


def _init_params(cls: type) -> set[str]:
    return {n for n, p in inspect.signature(cls.__init__).parameters.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _named_source(name, arguments: dict) -> DatasetSource:
    """A library source by dataset name, with its arguments given beside the options (older configs)."""
    cls = source_class(name)
    unknown = set(arguments) - _init_params(cls)
    if unknown:
        raise ValueError(f"unknown dataset option(s) {sorted(unknown)} for {cls.name!r}; allowed: "
                         f"{sorted(_init_params(cls) | set(DATASET_OPTIONS))}")
    return cls(**arguments)


def build_source(node, *, trusted: bool = False) -> DatasetSource:
    """A :class:`DatasetSource` from a ``_target_`` config, a library dataset name, or a source object."""
    if isinstance(node, DatasetSource):
        return node
    if isinstance(node, str):
        return source_class(node)()
    if not isinstance(node, Mapping):
        raise TypeError(f"a dataset source is a _target_ config or a dataset name, got {type(node).__name__}")
    target = node.get("_target_")
    if not target or target == "???":
        raise ValueError("the dataset source has no _target_; name a DatasetSource class, e.g. "
                         "dataset.source._target_=graph_energy.data.sources.QM9Source")
    try:
        source = instantiate(node, trusted=trusted)
    except TypeError as err:
        raise ValueError(str(err)) from None
    if not isinstance(source, DatasetSource):
        raise ValueError(f"dataset source {target!r} is not a graph_energy.data.sources.DatasetSource "
                         f"(it built a {type(source).__name__})")
    return source


# --------------------------------------------------------------------------------------------- main
def load_dataset(name=None, *, trusted: bool = False, **options) -> MolecularData:
    """Prepare (or load from cache) a molecular dataset.

    Args:
        name: a dataset config mapping, a dataset name (``"qm9"``, ``"moses"``, ``"zinc250k"``,
            ``"smiles"``), a :class:`~graph_energy.data.sources.DatasetSource` or a :class:`DatasetConfig`
            (see :meth:`DatasetConfig.parse`).
        trusted: ``True`` for configs the user wrote (command line, Python); configs read from files
            (checkpoints) are untrusted and may only build ``graph_energy`` classes.
        options: more config entries: ``source=...``, the processing options of :class:`DatasetConfig`
            (``root``, ``kekulize``, ``max_nodes``, ``spec``, ``workers``, ``chunk_size``,
            ``force_reload``) and, with a dataset name, that source's arguments (e.g. ``path``,
            ``seed``, ``num_train``, ``split_column``).

    Example:
        >>> data = load_dataset("smiles", path="mols.smi")                    # doctest: +SKIP
        >>> data = load_dataset(QM9Source(num_train=50_000), root="/data")    # doctest: +SKIP
    """
    return DatasetConfig.parse(name, trusted=trusted, **options).load()
