"""The one table from dataset names to source classes (names in old configs: ``name: qm9``)."""

from __future__ import annotations

from graph_energy.data.sources.base import DatasetSource
from graph_energy.data.sources.moses import MosesSource
from graph_energy.data.sources.qm9 import QM9Source
from graph_energy.data.sources.smiles_file import SmilesFileSource
from graph_energy.data.sources.zinc250k import Zinc250kSource

__all__ = ["SOURCES", "ALIASES", "source_class"]

#: The library's sources by :attr:`DatasetSource.name`.
SOURCES: dict[str, type[DatasetSource]] = {cls.name: cls for cls in (QM9Source, MosesSource, Zinc250kSource,
                                                                     SmilesFileSource)}
#: Other accepted spellings.
ALIASES = {"zinc": "zinc250k", "zinc250": "zinc250k", "file": "smiles", "csv": "smiles"}


def source_class(name: str) -> type[DatasetSource]:
    """The source class of a dataset name (case-insensitive, aliases accepted)."""
    if not isinstance(name, str):
        raise ValueError(f"dataset name must be a string, got {name!r}; choose one of {list(SOURCES)}")
    key = ALIASES.get(name.lower(), name.lower())
    if key not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {list(SOURCES)} (or dataset=smiles with "
                         "dataset.source.path=<file> for your own SMILES, or your own DatasetSource class "
                         "under dataset.source._target_)")
    return SOURCES[key]
