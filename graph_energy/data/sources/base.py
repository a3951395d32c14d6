"""The dataset-source contract (:class:`DatasetSource`), its result (:class:`RawSplits`) and file helpers.

A source knows where a dataset's molecules come from and how they are split; the shared pipeline
(:mod:`graph_energy.data.datasets`) encodes, checks, caches and serves them. Nothing here parses
chemistry.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from graph_energy.config import Configurable

__all__ = ["RawSplits", "DatasetSource", "read_table", "package_data_dir", "as_paths", "plain", "check_data_file",
           "NON_UTF8"]

#: What bytes that are not UTF-8 become when a data file is read (the row is then dropped as ``encoding``).
NON_UTF8 = "\ufffd"


@dataclass
class RawSplits:
    """SMILES per split plus provenance.

    Attributes:
        smiles: ``{split: [smiles, ...]}`` (a ``"train"`` split is required).
        source_index: ``{split: (k,) int64}`` row id of each SMILES in its source.
        info: facts worth reporting (rows read, missing ids, files); ``info["protocol"]`` names the split.
    """

    smiles: dict[str, list[str]]
    source_index: dict[str, np.ndarray]
    info: dict = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return sum(len(v) for v in self.smiles.values())

    @classmethod
    def from_lists(cls, smiles: dict[str, list[str]], info: dict | None = None) -> RawSplits:
        """Splits whose row ids are the positions within each list."""
        return cls({k: list(v) for k, v in smiles.items()},
                   {k: np.arange(len(v), dtype=np.int64) for k, v in smiles.items()}, dict(info or {}))


class DatasetSource(Configurable, ABC):
    """Where a dataset's molecules come from and how they are split.

    A new dataset is one subclass plus one ``conf/dataset/<name>.yaml`` naming it under
    ``source._target_``. Subclasses set :attr:`name`, implement :meth:`read`, and override the
    other methods when the defaults do not fit. Constructor arguments are recorded (the object
    can be written back to a config with :func:`graph_energy.config.to_config`).

    Attributes:
        name: short identifier: the cache folder ``<root>/<name>/`` and the dataset name in
            reports (published-baseline tables are looked up by it).
        raw_references: evaluation reference sets are the split's SMILES as :meth:`read` returns
            them (cheap to read, and what the published protocols use). ``False``: the canonical
            SMILES of the processed split (the molecules that survived encoding).
    """

    name: ClassVar[str] = ""
    raw_references: ClassVar[bool] = False

    def files(self, root: Path) -> list[Path]:
        """The raw files :meth:`read` uses; their content identifies the dataset in the cache key.

        ``root`` is the data root of this load (a source that downloads keeps its raw files under
        ``root / name / "raw"``). Default: no files (the source makes its molecules itself).
        """
        return []

    @abstractmethod
    def read(self, files: list[Path]) -> RawSplits:
        """SMILES per split (``files`` as returned by :meth:`files`)."""

    def split_settings(self) -> dict:
        """Everything besides the file contents that decides the splits (recorded in the cache key,
        so equal splits must give equal settings). Default: the constructor arguments."""
        return plain(getattr(self, "_config_args", {}))

    def read_labels(self, files: list[Path], names: list[str]) -> pd.DataFrame:
        """Per-molecule labels: a frame indexed by the row ids of :attr:`RawSplits.source_index`, one
        float column per name in ``names``. Default: the source has none (``ValueError``)."""
        raise ValueError(f"dataset {self.name!r} ({type(self).__name__}) has no labels; labels={list(names)} needs "
                         "a source that provides them (e.g. qm9: mu, homo, lumo, gap, alpha, cv)")

    def default_policy(self):
        """The :class:`~graph_energy.data.policy.MoleculePolicy` used when the dataset config gives none.
        Default: the historical rules (any element, fragments kept, no size quantile)."""
        from graph_energy.data.policy import MoleculePolicy

        return MoleculePolicy()

    def reference_statistics(self, split: str) -> Path | None:
        """A file of precomputed evaluation statistics shipped for ``split`` (``None``: none)."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in getattr(self, "_config_args", {}).items())
        return f"{type(self).__name__}({args})"


def package_data_dir(package: str, *parts: str, hint: str) -> Path:
    """Folder inside an installed package, located without importing it (``find_spec`` of a
    top-level name does not execute the package)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not (spec.origin or spec.submodule_search_locations):
        raise ValueError(f"the data package {package!r} is not installed; install it with `{hint}` "
                         "(or pass a local file with dataset.source.path=...)")
    base = Path(spec.origin).parent if spec.origin else Path(list(spec.submodule_search_locations)[0])
    folder = base.joinpath(*parts)
    if not folder.is_dir():
        raise ValueError(f"{folder} is missing from the installed {package!r}; reinstall it with `{hint}`")
    return folder


def check_data_file(path: Path, where: str = "dataset.source.path") -> None:
    """A ``ValueError`` naming ``path`` and ``where`` it comes from unless it is a readable file."""
    if path.is_dir():
        raise ValueError(f"data file {path} is a directory; pass a file inside it ({where}=<dir>/<file>)")
    if not path.exists():
        raise ValueError(f"data file {path} does not exist; check {where}")
    if not path.is_file():
        raise ValueError(f"data file {path} is not a regular file; check {where}")


def read_table(path: str | Path, columns: list[str] | None = None, **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` whose failures (missing, empty, truncated, wrong columns) become one-line
    ``ValueError``s naming the file and the fix. Bytes that are not UTF-8 become :data:`NON_UTF8`
    (the rows holding them are counted as ``encoding`` drops, not a rejected file)."""
    path = Path(path)
    check_data_file(path, "dataset.source.path")
    kwargs.setdefault("encoding_errors", "replace")
    try:
        df = pd.read_csv(path, usecols=columns, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"data file {path} is empty; re-download or regenerate it") from None
    except (pd.errors.ParserError, EOFError, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"data file {path} is truncated or malformed ({type(err).__name__}: "
                         f"{str(err).strip().splitlines()[-1][:200]}); re-download or regenerate it") from None
    except ValueError as err:  # usecols mismatch
        if "Usecols" in str(err) or "columns expected" in str(err):
            head = pd.read_csv(path, nrows=0).columns.tolist()
            raise ValueError(f"data file {path} lacks column(s) {columns}; it has {head}") from None
        raise
    if len(df) == 0:
        raise ValueError(f"data file {path} has a header but no rows; re-download or regenerate it")
    return df


def plain(v):
    """Mapping/sequence values (e.g. OmegaConf containers) as plain dicts/lists, recursively."""
    if isinstance(v, Mapping):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)) or type(v).__name__ == "ListConfig":
        return [plain(x) for x in v]
    return v


def as_paths(path: str | Path | list | tuple | None) -> list[Path] | None:
    """``None``, one path or a list of paths as a list of expanded :class:`Path` (``None`` stays)."""
    if path is None or path == "":
        return None
    items = [path] if isinstance(path, (str, Path)) else list(path)
    return [Path(str(p)).expanduser() for p in items]
