"""Frozen coordinates: a mask of nodes and pairs the sampler must not change (scaffolds, inpainting).

A :class:`FrozenMask` travels with the chains (the driver's state and every kernel's
:class:`~graph_energy.samplers.kernels.ChainView`). Kernels respect it through the coordinate set of
:class:`~graph_energy.samplers.moves.Deltas`: a frozen coordinate is no coordinate, so greedy
transport never edits it and the factorised MH proposal leaves it in its class with probability one
and counts neither it in ``log q(x'|x)`` nor in ``log q(x|x')``: MH is exact for the target
restricted to the free coordinates (the conditional of ``π`` given the frozen ones). The driver
checks every candidate and raises if a kernel changed a frozen coordinate.

Optionally the mask also restricts the classes a free pair may take (``edge_classes``): a
disallowed class gets ``Δ = +inf``, so transport never picks it and the proposal gives it
probability zero in both directions (exact for ``π`` restricted to the allowed states).

:func:`fixed_start` builds the initial graphs of constrained generation: nodes ``0..k-1`` hold the
fixed part (their classes and all pairs among them frozen), pairs between a fixed node that is not
an attachment point (or has no valence left) and a free node are frozen to "no bond", a pair between
a fixed atom and a free atom may only take bonds the fixed atom's remaining valence allows, and
everything else starts from noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph, GraphLabels

__all__ = ["FrozenMask", "FixedPart", "fixed_start"]


@dataclass(frozen=True)
class FrozenMask:
    """Coordinates the kernels must leave unchanged.

    Attributes:
        node: ``(B, N)`` bool, frozen node classes.
        edge: ``(B, N, N)`` bool, frozen pair classes (symmetric; the diagonal is ignored).
        edge_classes: optional ``(B, N, N, de)`` bool, the classes each free pair may take (symmetric;
            ``None``: all). The current class of every pair must be allowed.
    """

    node: Tensor
    edge: Tensor
    edge_classes: Tensor | None = None

    def __post_init__(self) -> None:
        B, N = self.node.shape
        if self.edge.shape != (B, N, N):
            raise ValueError(f"frozen edge mask must be (B, N, N) = {(B, N, N)}, got {tuple(self.edge.shape)}")
        if not torch.equal(self.edge, self.edge.transpose(1, 2)):
            raise ValueError("the frozen edge mask must be symmetric (a pair i<j is one coordinate)")
        if self.edge_classes is not None and (self.edge_classes.shape[:3] != (B, N, N)
                                              or not self.edge_classes[..., 0].all()):
            raise ValueError("edge_classes must be (B, N, N, de) and allow class 0 (no bond) everywhere")

    @classmethod
    def none(cls, labels: GraphLabels) -> FrozenMask:
        """Nothing frozen, shaped like ``labels``."""
        return cls(torch.zeros_like(labels.node_mask), torch.zeros_like(labels.e, dtype=torch.bool))

    def index(self, idx) -> FrozenMask:
        """The rows ``idx`` of the mask."""
        ec = self.edge_classes[idx] if self.edge_classes is not None else None
        return FrozenMask(self.node[idx], self.edge[idx], ec)

    def to(self, device) -> FrozenMask:
        ec = self.edge_classes.to(device) if self.edge_classes is not None else None
        return FrozenMask(self.node.to(device), self.edge.to(device), ec)

    def allowed(self, labels: GraphLabels) -> Tensor:
        """``(B,)`` bool: every pair of ``labels`` is in an allowed class."""
        if self.edge_classes is None:
            return torch.ones(labels.x.shape[0], dtype=torch.bool, device=labels.x.device)
        ok = self.edge_classes.gather(-1, labels.e[..., None]).squeeze(-1)
        return ok.flatten(1).all(1)

    @property
    def num_frozen(self) -> Tensor:
        """``(B,)`` long frozen coordinates per chain (pairs counted once)."""
        return self.node.long().sum(1) + torch.triu(self.edge, 1).long().sum((1, 2))

    def changed(self, before: GraphLabels, after: GraphLabels) -> Tensor:
        """``(B,)`` bool: some frozen coordinate differs between the two label batches."""
        dx = (before.x != after.x) & self.node
        de = (before.e != after.e) & self.edge
        return dx.any(1) | de.any(2).any(1)


@dataclass(frozen=True)
class FixedPart:
    """The fixed part of constrained generation as labels (no RDKit).

    Attributes:
        x: ``(k,)`` atom classes; e: ``(k, k)`` bond classes; attach: ``(k,)`` bool, fixed atoms that
            may bond to free atoms.
        capacity: optional ``(k,)`` float, valence each fixed atom has left for bonds to free atoms
            (``None``: no limit); see :meth:`with_capacity`.
    """

    x: np.ndarray
    e: np.ndarray
    attach: np.ndarray
    capacity: np.ndarray | None = None

    def __post_init__(self) -> None:
        k = len(self.x)
        if k < 1 or np.shape(self.e) != (k, k) or np.shape(self.attach) != (k,):
            raise ValueError(f"fixed part needs x (k,), e (k,k), attach (k,) with k >= 1; got {np.shape(self.x)}, "
                             f"{np.shape(self.e)}, {np.shape(self.attach)}")

    @property
    def num_atoms(self) -> int:
        return len(self.x)

    @classmethod
    def with_capacity(cls, x, e, attach, spec) -> FixedPart:
        """A fixed part whose capacities are the spec's maximum valence of each atom minus the bond orders
        it already has inside the fixed part."""
        x, e = np.asarray(x, dtype=np.int64), np.asarray(e, dtype=np.int64)
        used = np.asarray(spec.bond_orders, dtype=np.float64)[e].sum(1)
        return cls(x, e, np.asarray(attach, dtype=bool), np.asarray(spec.max_valences, dtype=np.float64)[x] - used)


def fixed_start(fixed: FixedPart, noise_graph: DenseGraph, bond_orders=None) -> tuple[DenseGraph, FrozenMask]:
    """Initial graphs with ``fixed`` on nodes ``0..k-1`` and the :class:`FrozenMask` that keeps it (module
    docstring); every graph of ``noise_graph`` must have at least ``k`` nodes.

    ``bond_orders`` (``(de,)``, the spec's ``bond_orders``) is needed when ``fixed.capacity`` is set: a
    pair between fixed atom ``i`` and a free atom may then only take classes of order ``<= capacity_i``
    (noise in a disallowed class starts as "no bond").
    """
    lab = noise_graph.to_labels()
    B, N = lab.x.shape
    k = fixed.num_atoms
    n = lab.node_mask.sum(1)
    if int(n.min()) < k:
        raise ValueError(f"every graph needs at least the {k} fixed atoms; got a node count of {int(n.min())}")
    dev = lab.x.device
    fx = torch.as_tensor(np.asarray(fixed.x), dtype=torch.long, device=dev)
    fe = torch.as_tensor(np.asarray(fixed.e), dtype=torch.long, device=dev)
    open_ = torch.as_tensor(np.asarray(fixed.attach), dtype=torch.bool, device=dev)
    is_fixed = torch.zeros(N, dtype=torch.bool, device=dev)
    is_fixed[:k] = True
    node = is_fixed[None, :].expand(B, N) & lab.node_mask
    closed = torch.zeros(N, dtype=torch.bool, device=dev)
    closed[:k] = ~open_
    cap = None
    if fixed.capacity is not None:
        if bond_orders is None:
            raise ValueError("a fixed part with capacities needs the bond orders of the classes (spec.bond_orders)")
        cap = torch.full((N,), float("inf"), dtype=torch.float64, device=dev)
        cap[:k] = torch.as_tensor(np.asarray(fixed.capacity), dtype=torch.float64, device=dev)
        closed[:k] |= cap[:k] < 1  # no valence left: no bond to the free part at all
    pair = (is_fixed[:, None] & is_fixed[None, :]) | (closed[:, None] & ~is_fixed[None, :]) \
        | (~is_fixed[:, None] & closed[None, :])
    real = lab.node_mask[:, :, None] & lab.node_mask[:, None, :]
    eye = torch.eye(N, dtype=torch.bool, device=dev)
    edge = pair[None] & real & ~eye
    x = lab.x.clone()
    x[:, :k] = fx
    e = torch.where(edge, torch.zeros_like(lab.e), lab.e)
    classes = None
    if cap is not None:
        orders = torch.as_tensor(bond_orders, dtype=torch.float64, device=dev)
        limit = torch.minimum(cap[:, None], cap[None, :])  # (N, N): the fixed endpoint's capacity
        limit = torch.where(is_fixed[:, None] & is_fixed[None, :], float("inf"), limit)  # fixed pairs: frozen anyway
        classes = (orders[None, None, :] <= limit[:, :, None])[None].expand(B, N, N, -1).clone()
        classes[..., 0] = True
        e = torch.where(classes.gather(-1, e[..., None]).squeeze(-1), e, torch.zeros_like(e))
    e[:, :k, :k] = fe
    e = e * real * ~eye
    graph = DenseGraph.from_labels(x, e, lab.node_mask, noise_graph.num_node_classes, noise_graph.num_edge_classes,
                                   noise_graph.x.dtype)
    return graph, FrozenMask(node, edge, classes)
