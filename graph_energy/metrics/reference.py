"""Reference and training SMILES: dataset splits, user files, and MOSES' shipped statistics."""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from graph_energy.metrics.fcd import GaussianStats

__all__ = ["ReferenceSet", "dataset_split_smiles", "precomputed_statistics", "canonical_split", "SPLIT_ALIASES"]

log = logging.getLogger(__name__)

#: Accepted spellings of split names.
SPLIT_ALIASES = {"testsf": "test_scaffolds", "test_sf": "test_scaffolds", "scaffolds": "test_scaffolds",
                 "valid": "val", "validation": "val"}


@dataclass
class ReferenceSet:
    """A named reference: SMILES and optionally precomputed statistics.

    ``precomputed`` may hold ``fcd`` (:class:`GaussianStats`), ``fps`` ((n, 1024) uint8 Morgan bits),
    ``frag`` / ``scaf`` (Counters) and ``properties`` (``{"logP"|"QED"|"SA"|"MW": array}``).
    """

    name: str
    smiles: list[str]
    precomputed: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.smiles)


def canonical_split(split: str) -> str:
    """Lower-case split name with the accepted spellings of :data:`SPLIT_ALIASES` resolved."""
    s = str(split).lower()
    return SPLIT_ALIASES.get(s, s)


def dataset_split_smiles(dataset, split: str, *, trusted: bool = False) -> list[str]:
    """SMILES of one split of a dataset, as evaluation references.

    ``dataset`` is anything :func:`graph_energy.data.load_dataset` accepts (a name, a dataset config
    mapping as in ``conf/dataset/*.yaml``, a source); ``trusted=False`` for configs read from
    checkpoints. The source decides what a reference is: the split as published, read straight from
    its files (QM9, MOSES: no processing), or the processed split's canonical SMILES.
    """
    from graph_energy.data.datasets import DatasetConfig

    return DatasetConfig.parse(dataset, trusted=trusted).split_smiles(canonical_split(split))


def precomputed_statistics(path: str | os.PathLike) -> dict:
    """Reference statistics shipped with a dataset (``molsets``' ``<split>_stats.npz``; see
    :class:`ReferenceSet` and :meth:`graph_energy.data.sources.DatasetSource.reference_statistics`).

    The file is a pickled dict inside the installed wheel (trusted package data). FCD statistics
    were computed by ``fcd_torch`` with the same ChemNet weights (agrees with ``fcd`` to ~5e-4).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"no precomputed reference statistics at {path}")
    with np.load(path, allow_pickle=True) as data:
        stats = data["stats"].item()
    props = {}
    for ours, theirs in (("logP", "logP"), ("QED", "QED"), ("SA", "SA"), ("MW", "weight")):
        entry = stats.get(theirs)
        if isinstance(entry, dict) and "values" in entry:
            props[ours] = np.asarray(entry["values"], dtype=np.float64)
    fcd_stats = stats["FCD"]
    return {
        "fcd": GaussianStats(mu=np.asarray(fcd_stats["mu"], np.float64),
                             sigma=np.asarray(fcd_stats["sigma"], np.float64), n=-1),
        "fps": np.asarray(stats["SNN"]["fps"], dtype=np.uint8),
        "frag": Counter(stats["Frag"]["frag"]),
        "scaf": Counter(stats["Scaf"]["scaf"]),
        "properties": props,
    }
