"""Local-move algebra shared by the kernels: coordinates, linearised edit costs, label <-> one-hot.

A graph of a chain has two kinds of coordinates: every real node ``i`` (``dx`` classes) and every
real unordered pair ``i<j`` (``de`` classes, mirrored into ``e[j, i]``). For a coordinate ``d`` in
class ``a`` the first-order estimate of moving it to class ``c`` is ``Δ_d(c) = g_d(c) − g_d(a)``
with the symmetrised edge gradient ``½(g_ij + g_ji)`` (the same one used in training).
Padding nodes, pairs touching padding and the diagonal are never coordinates, and neither are the
coordinates of a :class:`~graph_energy.samplers.frozen.FrozenMask` (scaffolds, inpainting): every
kernel that reads its moves from :class:`Deltas` therefore leaves them alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.samplers.frozen import FrozenMask

__all__ = ["Deltas", "coordinate_deltas", "upper_pair_mask", "graph_of", "mirror_upper"]


def upper_pair_mask(node_mask: Tensor) -> Tensor:
    """``(B, N, N)`` bool: real pairs with ``i < j`` (the edge coordinates)."""
    m = node_mask[:, :, None] & node_mask[:, None, :]
    return torch.triu(m, diagonal=1)


def mirror_upper(e: Tensor) -> Tensor:
    """Symmetric ``(B, N, N)`` label matrix from the strict upper triangle of ``e``."""
    up = torch.triu(e, diagonal=1)
    return up + up.transpose(1, 2)


def graph_of(labels: GraphLabels, like: DenseGraph) -> DenseGraph:
    """One-hot graph with the class counts and dtype of ``like``."""
    return DenseGraph.from_labels(labels.x, labels.e, labels.node_mask, like.num_node_classes,
                                  like.num_edge_classes, like.x.dtype)


@dataclass
class Deltas:
    """Linearised cost of every single edit.

    Attributes:
        node: ``(B, N, dx)`` ``Δ_i(c)``; 0 at the current class.
        edge: ``(B, N, N, de)`` ``Δ_ij(c)`` (symmetric); 0 at the current class.
        node_mask: ``(B, N)`` node coordinates (real, not frozen nodes).
        edge_mask: ``(B, N, N)`` edge coordinates (real, not frozen pairs ``i<j``).
    """

    node: Tensor
    edge: Tensor
    node_mask: Tensor
    edge_mask: Tensor


def coordinate_deltas(labels: GraphLabels, grad_x: Tensor, grad_e: Tensor, frozen: FrozenMask | None = None) -> Deltas:
    """``Δ_d(c) = g_d(c) − g_d(a)`` for all nodes and pairs.

    Args:
        labels: current classes, ``x (B,N)``, ``e (B,N,N)``.
        grad_x: ``(B, N, dx)`` energy gradient w.r.t. the node one-hots.
        grad_e: ``(B, N, N, de)`` symmetrised energy gradient w.r.t. the edge one-hots.
        frozen: coordinates to leave out of the coordinate masks (``None``: none); classes a pair may not
            take (``frozen.edge_classes``) get ``Δ = +inf``.
    """
    dn = grad_x - grad_x.gather(-1, labels.x[..., None])
    de = grad_e - grad_e.gather(-1, labels.e[..., None])
    node_mask, edge_mask = labels.node_mask, upper_pair_mask(labels.node_mask)
    if frozen is not None:
        node_mask, edge_mask = node_mask & ~frozen.node, edge_mask & ~frozen.edge
        if frozen.edge_classes is not None:  # a disallowed class is never worth taking
            de = de.masked_fill(~frozen.edge_classes, float("inf"))
    return Deltas(dn, de, node_mask, edge_mask)
