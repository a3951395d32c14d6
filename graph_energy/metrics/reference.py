"""Reference and training SMILES: dataset splits, user files, and MOSES' shipped statistics."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from graph_energy.metrics.fcd import GaussianStats

__all__ = ["ReferenceSet", "dataset_split_smiles", "moses_precomputed", "SPLIT_ALIASES"]

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


def _canon_split(split: str) -> str:
    s = str(split).lower()
    return SPLIT_ALIASES.get(s, s)


def dataset_split_smiles(dataset: str | Mapping, split: str) -> list[str]:
    """SMILES of one split of a dataset (raw strings, official split).

    ``dataset`` is a name or a dataset option mapping (as in ``conf/dataset/*.yaml``). QM9
    (DiGress-family split) and MOSES are read straight from their source files through the data
    package's readers, which is cheap (no graph processing). Other datasets go through the dataset
    bundle (:func:`graph_energy.data.load_dataset`) and use its items' ``.smiles``.
    """
    opts = {k: v for k, v in dict(dataset).items() if v is not None} if isinstance(dataset, Mapping) \
        else {"name": dataset}
    name = str(opts.get("name", "")).lower()
    split = _canon_split(split)
    if name == "qm9":
        from graph_energy.data.sources import read_qm9

        path = opts.get("path")
        files = [path] if isinstance(path, str) else path
        raw = read_qm9(files, int(opts.get("num_train", 100_000)), int(opts.get("seed", 42)))
    elif name == "moses":
        from graph_energy.data.sources import read_moses

        raw = read_moses(opts.get("path"))
    else:
        from graph_energy.data import load_dataset

        data = load_dataset(opts)
        items = getattr(data, split, None)
        if items is None:
            raise ValueError(f"dataset {name!r} has no split {split!r}; use train, val or test")
        return [str(d.smiles) for d in items]
    if split not in raw.smiles:
        raise ValueError(f"dataset {name!r} has no split {split!r}; available: {sorted(raw.smiles)}")
    return list(raw.smiles[split])


def moses_precomputed(split: str) -> dict:
    """Statistics shipped with ``molsets`` for ``test`` / ``test_scaffolds`` (see :class:`ReferenceSet`).

    The file is a pickled dict inside the installed wheel (trusted package data). FCD statistics
    were computed by ``fcd_torch`` with the same ChemNet weights (agrees with ``fcd`` to ~5e-4).
    """
    from graph_energy.metrics.moses import moses_data_dir

    split = _canon_split(split)
    path = os.path.join(moses_data_dir("dataset/data"), f"{split}_stats.npz")
    if not os.path.exists(path):
        raise ValueError(f"no precomputed MOSES statistics for split {split!r} ({path})")
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
