"""Compact storage of a molecular split and the PyG ``InMemoryDataset`` that serves it.

A split of 1.6 M molecules stored as PyG ``Data`` objects (int64 everywhere, both edge directions,
one Python string per molecule) takes several GB; :class:`GraphStore` keeps concatenated small-int
tensors instead (one byte per atom, three bytes per bond, UTF-8 SMILES in one byte buffer) and
expands one molecule to the documented ``Data`` layout on access.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset

from graph_energy.data.dense import DenseGraph, GraphLabels

__all__ = ["GraphStore", "MolecularGraphDataset"]


@dataclass
class GraphStore:
    """Concatenated graphs of one split.

    Attributes:
        x: ``(total_nodes,)`` uint8 atom class ids.
        node_ptr: ``(G+1,)`` int64 offsets into ``x``.
        bond_index: ``(2, total_bonds)`` int16 local endpoints ``i < j`` of each bond.
        bond_attr: ``(total_bonds,)`` uint8 bond class ids (>= 1).
        bond_ptr: ``(G+1,)`` int64 offsets into the bond arrays.
        smiles_bytes: ``(total_chars,)`` uint8 UTF-8 canonical SMILES, concatenated.
        smiles_ptr: ``(G+1,)`` int64 offsets into ``smiles_bytes``.
        source_index: ``(G,)`` int64 row id of each molecule in its source (e.g. the GDB id).
    """

    x: Tensor
    node_ptr: Tensor
    bond_index: Tensor
    bond_attr: Tensor
    bond_ptr: Tensor
    smiles_bytes: Tensor
    smiles_ptr: Tensor
    source_index: Tensor

    def __len__(self) -> int:
        return self.node_ptr.numel() - 1

    @property
    def num_nodes(self) -> Tensor:
        """``(G,)`` int64 nodes per graph."""
        return self.node_ptr[1:] - self.node_ptr[:-1]

    def smiles(self, idx: int) -> str:
        a, b = int(self.smiles_ptr[idx]), int(self.smiles_ptr[idx + 1])
        return bytes(self.smiles_bytes[a:b].numpy()).decode("utf-8")

    def all_smiles(self) -> list[str]:
        buf = bytes(self.smiles_bytes.numpy()).decode("utf-8")
        if buf.isascii():
            ptr = self.smiles_ptr.tolist()
            return [buf[ptr[i]:ptr[i + 1]] for i in range(len(self))]
        return [self.smiles(i) for i in range(len(self))]

    def get(self, idx: int) -> Data:
        """Molecule ``idx`` as ``Data(x (n,) long, edge_index (2, 2m) long, edge_attr (2m,) long, smiles)``."""
        n0, n1 = int(self.node_ptr[idx]), int(self.node_ptr[idx + 1])
        b0, b1 = int(self.bond_ptr[idx]), int(self.bond_ptr[idx + 1])
        bi = self.bond_index[:, b0:b1].long()
        ba = self.bond_attr[b0:b1].long()
        return Data(x=self.x[n0:n1].long(), edge_index=torch.cat([bi, bi.flip(0)], 1),
                    edge_attr=torch.cat([ba, ba]), smiles=self.smiles(idx), num_nodes=n1 - n0)

    def labels(self, idx: Tensor, max_nodes: int | None = None) -> GraphLabels:
        """Integer dense labels of the graphs ``idx (B,)``: ``x (B,N)``, ``e (B,N,N)``, mask ``(B,N)``."""
        idx = torch.as_tensor(idx, dtype=torch.long).view(-1)
        n = self.num_nodes[idx]
        N = int(max_nodes if max_nodes is not None else (n.max() if n.numel() else 0))
        B = idx.numel()
        mask = torch.arange(N)[None, :] < n[:, None]
        x = torch.zeros(B, N, dtype=torch.long)
        e = torch.zeros(B, N, N, dtype=torch.long)
        # Vectorised gather: graph b's nodes/bonds are the ranges [ptr[g], ptr[g+1]) of the flat arrays.
        b_node, src_node, local = _ranges(self.node_ptr[idx], n)
        x[b_node, local] = self.x[src_node].long()
        m = self.bond_ptr[idx + 1] - self.bond_ptr[idx]
        b_bond, src_bond, _ = _ranges(self.bond_ptr[idx], m)
        i, j = self.bond_index[:, src_bond].long()
        a = self.bond_attr[src_bond].long()
        e[b_bond, i, j] = a
        e[b_bond, j, i] = a
        return GraphLabels(x, e, mask)

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def save(self, path: str | Path) -> None:
        tmp = Path(str(path) + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> GraphStore:
        d = torch.load(path, weights_only=True)
        names = {f.name for f in fields(cls)}
        if set(d) != names:
            raise ValueError(f"{path} is not a graph store (fields {sorted(d)}); delete it to rebuild")
        return cls(**d)


def _ranges(start: Tensor, count: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For ranges ``[start_b, start_b + count_b)``: owner ``b``, flat position and offset of each element."""
    owner = torch.repeat_interleave(torch.arange(count.numel()), count)
    offset = torch.arange(int(count.sum())) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
    return owner, start[owner] + offset, offset


class MolecularGraphDataset(InMemoryDataset):
    """One split of a molecular dataset as a PyG ``InMemoryDataset``.

    Items are ``Data(x=long (n,) atom class ids, edge_index=long (2, m) both directions,
    edge_attr=long (m,) bond class ids >= 1, smiles=str)``, plus ``y (1, K)`` float64 when labels are
    attached (:func:`graph_energy.data.labels.attach_labels`; then :meth:`dense` gives a
    :class:`~graph_energy.data.labels.LabelledGraph`). The processed file is
    ``<root>/processed/<split>.pt``; ``builder(root)`` writes all splits when it is missing.
    """

    #: ``(G, K)`` float64 labels of the whole store (NaN = unknown), or ``None``; ``label_names``: the K names.
    labels: Tensor | None = None
    label_names: tuple[str, ...] = ()

    def __init__(self, root: str | Path, split: str, num_atom_types: int, num_bond_types: int,
                 builder: Callable[[str], None] | None = None, transform=None):
        self.split = split
        self._builder = builder
        self.num_atom_types = num_atom_types
        self.num_bond_types = num_bond_types
        super().__init__(str(root), transform=transform, log=False)
        self.store = GraphStore.load(self.processed_paths[0])

    @property
    def raw_file_names(self) -> list[str]:
        return []

    @property
    def processed_file_names(self) -> list[str]:
        return [f"{self.split}.pt"]

    def process(self) -> None:
        if self._builder is None:
            raise ValueError(f"processed file {self.processed_paths[0]} is missing; load the dataset through "
                             "graph_energy.data.load_dataset to build it")
        self._builder(self.root)

    def len(self) -> int:
        return len(self.store)

    def get(self, idx: int) -> Data:
        data = self.store.get(idx)
        if self.labels is not None:
            data.y = self.labels[idx][None]
        return data

    # ------------------------------------------------------------------ conveniences
    @property
    def smiles(self) -> list[str]:
        """Canonical SMILES of the molecules of this (possibly index-selected) view."""
        if self._indices is None:
            return self.store.all_smiles()
        return [self.store.smiles(i) for i in self.indices()]

    def dense(self, idx, max_nodes: int | None = None, dtype: torch.dtype = torch.float32) -> DenseGraph:
        """Dense one-hot batch of items ``idx`` (positions in this view) without going through PyG."""
        pos = torch.as_tensor(idx, dtype=torch.long).view(-1)
        base = pos if self._indices is None else torch.as_tensor(list(self.indices()), dtype=torch.long)[pos]
        lab = self.store.labels(base, max_nodes)
        graph = lab.to_onehot(self.num_atom_types, self.num_bond_types, dtype)
        if self.labels is None:
            return graph
        from graph_energy.data.labels import LabelledGraph

        return LabelledGraph(graph.x, graph.e, graph.node_mask, self.labels[base])
