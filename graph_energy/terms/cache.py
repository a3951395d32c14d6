"""Per-graph cache of decoded molecules and their property values.

The key of a graph is the bytes of its integer labels on the real nodes (atom classes, then the
upper triangle of the bond classes), so two chains in the same state, or one chain that revisits
a state, share one decoding. Evaluating a term on a graph seen before costs a dictionary lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.data.spec import MolecularSpec

__all__ = ["CacheEntry", "CacheStats", "MoleculeCache", "graph_keys"]


def graph_keys(labels: GraphLabels) -> list[bytes]:
    """One key per graph of a label batch: ``n`` (one byte), ``x[:n]``, then ``e[i, j]`` for ``i<j<n``."""
    x = labels.x.detach().cpu().numpy().astype(np.uint8)
    e = labels.e.detach().cpu().numpy().astype(np.uint8)
    n = labels.node_mask.detach().cpu().sum(1).numpy()
    keys: list[bytes] = [b""] * x.shape[0]
    for k in np.unique(n).tolist():  # one vectorised slice per graph size
        rows = np.nonzero(n == k)[0]
        iu, ju = np.triu_indices(k, 1)
        head = np.array([k & 0xFF, k >> 8], dtype=np.uint8)
        flat = np.concatenate([np.broadcast_to(head, (rows.size, 2)), x[rows, :k], e[rows][:, iu, ju]], 1)
        flat = np.ascontiguousarray(flat)
        for r, row in zip(rows.tolist(), flat):
            keys[r] = row.tobytes()
    return keys


@dataclass
class CacheEntry:
    """What is known about one graph: its molecule (``None`` = invalid) and property values by key."""

    mol: object
    values: dict[str, float] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.mol is not None


@dataclass
class CacheStats:
    """Counters of a :class:`MoleculeCache`.

    Attributes:
        lookups: graphs asked for; decodes: graphs decoded with RDKit (misses);
        computes: property values computed (the rest were cached).
    """

    lookups: int = 0
    decodes: int = 0
    computes: int = 0

    @property
    def hits(self) -> int:
        return self.lookups - self.decodes


class MoleculeCache:
    """Decoded molecules and property values of graphs under one :class:`MolecularSpec` (LRU).

    Args:
        spec: the vocabulary that decodes the graphs' labels.
        max_size: graphs kept (least recently used ones are dropped beyond it).
    """

    def __init__(self, spec: MolecularSpec, max_size: int = 200_000) -> None:
        if not isinstance(spec, MolecularSpec):
            raise TypeError(f"MoleculeCache needs a MolecularSpec, got {type(spec).__name__}")
        if int(max_size) < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        self.spec, self.max_size = spec, int(max_size)
        self.entries: OrderedDict[bytes, CacheEntry] = OrderedDict()
        self.stats = CacheStats()
        self._last: tuple[object, list[CacheEntry]] | None = None  # (batch, its entries): terms sharing a batch

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()
        self.stats = CacheStats()
        self._last = None

    def lookup(self, graph: DenseGraph | GraphLabels) -> list[CacheEntry]:
        """The entry of every graph of the batch, decoding those not seen before.

        The entries of the last batch are kept with the batch object itself, so several terms evaluated
        on the same batch (one target evaluation) compute its keys once.
        """
        from graph_energy.chem.convert import graph_to_mol

        if self._last is not None and self._last[0] is graph:
            self.stats.lookups += len(self._last[1])
            return self._last[1]
        labels = graph.to_labels() if isinstance(graph, DenseGraph) else graph
        keys = graph_keys(labels)
        out = []
        xs = es = None
        for b, key in enumerate(keys):
            self.stats.lookups += 1
            entry = self.entries.get(key)
            if entry is None:
                if xs is None:
                    xs, es = labels.x.cpu().numpy(), labels.e.cpu().numpy()
                n = int(labels.node_mask[b].sum())
                mol = graph_to_mol(xs[b, :n], es[b, :n, :n], self.spec) if n else None
                entry = CacheEntry(mol)
                self.stats.decodes += 1
                self.entries[key] = entry
                if len(self.entries) > self.max_size:
                    self.entries.popitem(last=False)
            else:
                self.entries.move_to_end(key)
            out.append(entry)
        self._last = (graph, out)
        return out

    def values(self, graph: DenseGraph | GraphLabels, prop) -> tuple[torch.Tensor, torch.Tensor]:
        """Property values ``(B,)`` float64 (NaN where invalid or not computable) and validity ``(B,)`` bool.

        ``prop`` is a :class:`~graph_energy.terms.properties.Property`; a property RDKit cannot compute
        for a molecule (it raises) counts as invalid for that molecule.
        """
        entries = self.lookup(graph)
        key = prop.key
        vals = np.full(len(entries), np.nan)
        for b, entry in enumerate(entries):
            if entry.mol is None:
                continue
            v = entry.values.get(key)
            if v is None:
                try:
                    v = float(prop(entry.mol))
                except Exception:  # noqa: BLE001 - RDKit descriptors raise assorted errors on odd molecules
                    v = float("nan")
                entry.values[key] = v
                self.stats.computes += 1
            vals[b] = v
        t = torch.from_numpy(vals)
        return t, ~torch.isnan(t)
