"""Dataset statistics computed from the training split (never hard-coded)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["DatasetStats"]


@dataclass(frozen=True)
class DatasetStats:
    """Size distribution and class marginals of a training split.

    Attributes:
        num_nodes_hist: ``(max_nodes + 1,)`` long, number of training graphs with ``n`` nodes.
        node_marginals: ``(dx,)`` float64, frequency of each atom class over all training nodes.
        edge_marginals: ``(de,)`` float64, frequency of each bond class over all real pairs ``i < j``
            of training graphs, class 0 (no bond) included.
    """

    num_nodes_hist: Tensor
    node_marginals: Tensor
    edge_marginals: Tensor

    def __post_init__(self) -> None:
        h = torch.as_tensor(self.num_nodes_hist, dtype=torch.long)
        if h.dim() != 1 or h.numel() < 2 or (h < 0).any() or h.sum() == 0:
            raise ValueError(f"num_nodes_hist must be a 1-d non-negative count vector with a positive sum, got {h}")
        object.__setattr__(self, "num_nodes_hist", h)
        for name in ("node_marginals", "edge_marginals"):
            v = torch.as_tensor(getattr(self, name), dtype=torch.float64)
            if v.dim() != 1 or (v < 0).any() or abs(float(v.sum()) - 1.0) > 1e-6:
                raise ValueError(f"{name} must be a probability vector, got {v.tolist()}")
            object.__setattr__(self, name, v)

    # ------------------------------------------------------------------ facts
    @property
    def max_nodes(self) -> int:
        return self.num_nodes_hist.numel() - 1

    @property
    def num_graphs(self) -> int:
        return int(self.num_nodes_hist.sum())

    @property
    def num_nodes_probs(self) -> Tensor:
        """``(max_nodes + 1,)`` float64 probabilities of each graph size."""
        h = self.num_nodes_hist.double()
        return h / h.sum()

    def sample_num_nodes(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` graph sizes from the training histogram; returns ``(n,)`` long."""
        if n < 0:
            raise ValueError(f"cannot sample a negative number of sizes ({n})")
        return torch.multinomial(self.num_nodes_probs.float(), n, replacement=True, generator=generator)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_counts(cls, num_nodes: Tensor, node_classes: Tensor, bond_classes: Tensor,
                    num_atom_types: int, num_bond_types: int, max_nodes: int) -> DatasetStats:
        """Statistics from flat training arrays.

        Args:
            num_nodes: ``(G,)`` nodes per graph.
            node_classes: ``(sum n,)`` atom class id of every node.
            bond_classes: ``(num_bonds,)`` bond class id (>= 1) of every bond ``i < j``.
        """
        num_nodes = torch.as_tensor(num_nodes).long()
        if num_nodes.numel() == 0:
            raise ValueError("cannot compute dataset statistics of an empty training split")
        hist = torch.bincount(num_nodes, minlength=max_nodes + 1)
        if hist.numel() > max_nodes + 1:
            raise ValueError(f"a training graph has {int(num_nodes.max())} nodes > max_nodes {max_nodes}")
        node_counts = torch.bincount(torch.as_tensor(node_classes).long(), minlength=num_atom_types).double()
        edge_counts = torch.bincount(torch.as_tensor(bond_classes).long(), minlength=num_bond_types).double()
        pairs = float((num_nodes * (num_nodes - 1) // 2).sum())
        edge_counts[0] = pairs - edge_counts[1:].sum()
        edge_marg = edge_counts / pairs if pairs > 0 else torch.nn.functional.one_hot(
            torch.tensor(0), num_bond_types).double()
        return cls(hist, node_counts / node_counts.sum(), edge_marg)

    # ------------------------------------------------------------------ plain data
    def to_dict(self) -> dict:
        return {"num_nodes_hist": self.num_nodes_hist.tolist(),
                "node_marginals": self.node_marginals.tolist(),
                "edge_marginals": self.edge_marginals.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> DatasetStats:
        missing = {"num_nodes_hist", "node_marginals", "edge_marginals"} - set(d)
        if missing:
            raise ValueError(f"DatasetStats dict lacks {sorted(missing)}")
        return cls(torch.tensor(d["num_nodes_hist"], dtype=torch.long),
                   torch.tensor(d["node_marginals"], dtype=torch.float64),
                   torch.tensor(d["edge_marginals"], dtype=torch.float64))
