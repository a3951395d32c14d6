"""Source distributions over graphs of given sizes (the ``x_0`` of the transport path).

A noise distribution draws, for every requested node count ``n_b``, a graph whose node classes and
edge classes (one per unordered pair ``i<j``, mirrored) are i.i.d. categorical. Padding follows the
:class:`~graph_energy.data.dense.DenseGraph` conventions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph

__all__ = ["NoiseDistribution", "CategoricalNoise", "UniformNoise", "MarginalNoise"]


def _as_probs(p, what: str) -> Tensor:
    p = torch.as_tensor(p, dtype=torch.float64).flatten()
    if p.numel() < 1 or (p < 0).any() or not torch.isfinite(p).all() or p.sum() <= 0:
        raise ValueError(f"{what} must be non-negative, finite and not all zero; got {p.tolist()}")
    return p / p.sum()


class NoiseDistribution(ABC):
    """Draws noise graphs with prescribed node counts."""

    num_node_classes: int
    num_edge_classes: int

    @abstractmethod
    def sample(self, num_nodes: Tensor, generator: torch.Generator | None = None,
               max_nodes: int | None = None) -> DenseGraph:
        """Draw one graph per entry of ``num_nodes`` ``(B,)``.

        Returns a :class:`DenseGraph` with ``x (B, N, dx)``, ``e (B, N, N, de)`` where
        ``N = max_nodes`` or ``max(num_nodes)``.
        """


class CategoricalNoise(NoiseDistribution):
    """Independent categorical node classes ``~ node_probs`` and edge classes ``~ edge_probs``.

    Args:
        node_probs: ``(dx,)`` node-class probabilities (normalised here).
        edge_probs: ``(de,)`` edge-class probabilities for a pair ``i<j`` (class 0 = no bond).
    """

    def __init__(self, node_probs, edge_probs) -> None:
        self.node_probs = _as_probs(node_probs, "node_probs")
        self.edge_probs = _as_probs(edge_probs, "edge_probs")
        self.num_node_classes = self.node_probs.numel()
        self.num_edge_classes = self.edge_probs.numel()

    def sample(self, num_nodes: Tensor, generator: torch.Generator | None = None,
               max_nodes: int | None = None) -> DenseGraph:
        num_nodes = torch.as_tensor(num_nodes).long().view(-1)
        if num_nodes.numel() and int(num_nodes.min()) < 0:
            raise ValueError(f"num_nodes must be >= 0, got min {int(num_nodes.min())}")
        B = num_nodes.numel()
        n_max = int(num_nodes.max()) if B else 0
        N = n_max if max_nodes is None else int(max_nodes)
        if N < n_max:
            raise ValueError(f"max_nodes={N} is smaller than the largest requested node count {n_max}")
        device = generator.device if generator is not None else torch.device("cpu")
        node_mask = torch.arange(N, device=device)[None, :] < num_nodes.to(device)[:, None]
        x = torch.multinomial(self.node_probs.to(device), B * N, replacement=True,
                              generator=generator).view(B, N) if B * N else torch.zeros(B, N, dtype=torch.long)
        e = torch.multinomial(self.edge_probs.to(device), B * N * N, replacement=True,
                              generator=generator).view(B, N, N) if B * N else torch.zeros(B, N, N, dtype=torch.long)
        e = torch.triu(e, diagonal=1)
        e = e + e.transpose(1, 2)
        return DenseGraph.from_labels(x, e, node_mask, self.num_node_classes, self.num_edge_classes)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(node_probs={[round(p, 4) for p in self.node_probs.tolist()]}, "
                f"edge_probs={[round(p, 4) for p in self.edge_probs.tolist()]})")


class UniformNoise(CategoricalNoise):
    """Uniform over node classes and over edge classes (the reference choice)."""

    def __init__(self, num_node_classes: int, num_edge_classes: int) -> None:
        if int(num_node_classes) < 1 or int(num_edge_classes) < 1:
            raise ValueError(f"class counts must be >= 1, got {num_node_classes}, {num_edge_classes}")
        super().__init__(torch.ones(int(num_node_classes)), torch.ones(int(num_edge_classes)))

    @classmethod
    def from_data(cls, spec, stats=None) -> UniformNoise:
        """Build from a :class:`~graph_energy.data.spec.MolecularSpec` (``stats`` unused)."""
        return cls(spec.num_atom_types, spec.num_bond_types)


class MarginalNoise(CategoricalNoise):
    """Node and edge classes drawn from the training marginals (``stats.node_marginals``,
    ``stats.edge_marginals``, the latter over real pairs ``i<j`` including class 0)."""

    @classmethod
    def from_data(cls, spec, stats) -> MarginalNoise:
        if stats is None:
            raise ValueError("MarginalNoise needs dataset statistics (node_marginals, edge_marginals); got None")
        node = torch.as_tensor(stats.node_marginals, dtype=torch.float64)
        edge = torch.as_tensor(stats.edge_marginals, dtype=torch.float64)
        if node.numel() != spec.num_atom_types or edge.numel() != spec.num_bond_types:
            raise ValueError(
                f"statistics do not match the spec: {node.numel()} node / {edge.numel()} edge marginals vs "
                f"{spec.num_atom_types} atom / {spec.num_bond_types} bond types; recompute the dataset stats")
        return cls(node, edge)
