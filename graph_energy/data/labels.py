"""Per-molecule labels (e.g. QM9's dipole moment and HOMO energy) that travel with the dataset graphs.

A source that has labels (:meth:`~graph_energy.data.sources.DatasetSource.read_labels`) gives a table
indexed by its row id; :func:`attach_labels` aligns it with every processed split through the
split's ``source_index`` (molecules dropped in processing simply have no row), so items carry
``data.y (1, K)`` and dense batches are :class:`LabelledGraph` with ``y (B, K)``. Labels are read at
load time and are not part of the processed cache.

    data = load_dataset("qm9", labels=["mu", "homo"])
    batch = data.train.dense(torch.arange(64))      # batch.y: (64, 2) float64, NaN where unknown
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph

__all__ = ["LabelledGraph", "attach_labels", "label_half"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledGraph(DenseGraph):
    """A :class:`DenseGraph` batch with per-graph labels ``y (B, K)`` (float64, NaN = unknown)."""

    y: Tensor = None  # type: ignore[assignment]

    def to(self, *args, **kwargs) -> LabelledGraph:
        g = DenseGraph.to(self, *args, **kwargs)
        device = g.x.device
        return LabelledGraph(g.x, g.e, g.node_mask, self.y.to(device))

    def detach(self) -> LabelledGraph:
        return LabelledGraph(self.x.detach(), self.e.detach(), self.node_mask, self.y)

    def index(self, idx) -> LabelledGraph:
        return LabelledGraph(self.x[idx], self.e[idx], self.node_mask[idx], self.y[idx])


def label_half(source_index: np.ndarray, half: int) -> np.ndarray:
    """``(G,)`` bool: the molecules of one fixed half (``0`` or ``1``) of a split, by the parity of their source row id.

    The two halves are disjoint and together cover the split (e.g. a guiding predictor and an independent
    oracle trained on different molecules).
    """
    if half not in (0, 1):
        raise ValueError(f"labels_half must be 0, 1 or null, got {half!r}")
    return (np.asarray(source_index) % 2) == half


def attach_labels(splits: dict, table, names: Sequence[str], half: int | None = None,
                  dataset: str = "dataset") -> dict:
    """Give every split's dataset the label columns ``names`` of ``table`` (a pandas frame indexed by source row id).

    With ``half`` (0 or 1) the training split keeps only the molecules of that half (a view of the
    same processed store). Returns the (possibly replaced) splits.
    """
    names = [str(n) for n in names]
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise ValueError(f"{dataset} has no label(s) {missing}; available: {list(table.columns)}")
    values = table[names].to_numpy(np.float64)
    pos = {int(k): i for i, k in enumerate(table.index.to_numpy())}
    out = dict(splits)
    for split, ds in splits.items():
        src = ds.store.source_index.numpy()
        rows = np.array([pos.get(int(k), -1) for k in src], dtype=np.int64)
        y = np.full((len(src), len(names)), np.nan)
        ok = rows >= 0
        y[ok] = values[rows[ok]]
        ds.labels = torch.from_numpy(y)
        ds.label_names = tuple(names)
        unknown = int((~np.isfinite(y)).any(1).sum())
        if unknown:
            log.info("%s %s: %d of %d molecules lack a label among %s", dataset, split, unknown, len(src), names)
        if half is not None and split == "train":
            keep = np.nonzero(label_half(src, int(half)))[0]
            out[split] = ds.index_select(torch.from_numpy(keep))
            out[split].labels, out[split].label_names = ds.labels, ds.label_names
            log.info("%s train: labels half %d, %d of %d molecules", dataset, half, keep.size, len(src))
    return out
