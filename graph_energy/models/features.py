"""Structural input features computed from the detached discrete state of a dense batch.

All features are functions of the integer labels (argmax of the one-hot input under the masks), so
they carry no gradient: the energy's input gradient flows through the one-hot channels only.
Every feature is masked (zero on padding nodes, on padding pairs and on the diagonal) and
independent of the padded size ``N``.

Features (all vectorised over the batch with dense matrix powers):

* random walks: ``P = D⁻¹A``; node channels ``diag(Pᵏ)`` for ``k = 2..K`` (``k = 1`` is always 0),
  optional pair channels ``Pᵏ[i, j]`` for ``k = 1..K``;
* cycles: node-level counts of 3-, 4- and 5-cycles through each node and graph-level counts of
  3-, 4-, 5- and 6-cycles, from the closed-form walk formulas (Harary & Manvel, 1971; Alon, Yuster &
  Zwick, 1997), exact on simple graphs;
* valency: current valence ``Σ_j order(e_ij)`` with bond orders from the spec (single 1, double 2,
  triple 3, aromatic 1.5), remaining valence ``max_valence(atom class) − valence`` and the formal
  charge of the atom class;
* size: ``n / max_nodes`` as a global channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from graph_energy.data.dense import DenseGraph, pair_mask
from graph_energy.data.spec import MolecularSpec

__all__ = ["GraphFeatures", "StructuralFeatures", "cycle_counts", "random_walk_features", "valency_features"]

# Fixed scales keep the raw counts in a range an input MLP handles well.
_VALENCE_SCALE = 4.0
_CYCLE_SCALE = 4.0


@dataclass
class GraphFeatures:
    """Structural features of a batch.

    Attributes:
        node: ``(B, N, F_node)``, zero on padding nodes.
        pair: ``(B, N, N, F_pair)``, zero on the diagonal and on pairs touching padding
            (``F_pair`` may be 0).
        glob: ``(B, F_glob)``.
    """

    node: Tensor
    pair: Tensor
    glob: Tensor


def _diag(m: Tensor) -> Tensor:
    return torch.diagonal(m, dim1=-2, dim2=-1)


def random_walk_features(adj: Tensor, steps: int, with_pairs: bool) -> tuple[Tensor, Tensor]:
    """Random-walk return probabilities (and optionally transition probabilities).

    Args:
        adj: ``(B, N, N)`` symmetric 0/1 adjacency, zero on padding.
        steps: number of powers ``K`` of ``P = D⁻¹A``.
        with_pairs: also return ``Pᵏ[i, j]`` for ``k = 1..K``.

    Returns:
        node ``(B, N, K−1)`` (``diag Pᵏ``, ``k = 2..K``) and pair ``(B, N, N, K or 0)``.
    """
    B, N, _ = adj.shape
    deg = adj.sum(-1, keepdim=True)
    p = adj / deg.clamp_min(1.0)
    node, pair = [], []
    pk = p
    for k in range(1, steps + 1):
        if k > 1:
            pk = pk @ p
            node.append(_diag(pk))
        if with_pairs:
            pair.append(pk)
    node_t = torch.stack(node, -1) if node else adj.new_zeros(B, N, 0)
    pair_t = torch.stack(pair, -1) if pair else adj.new_zeros(B, N, N, 0)
    return node_t, pair_t


def cycle_counts(adj: Tensor) -> tuple[Tensor, Tensor]:
    """Exact cycle counts of simple graphs from powers of the adjacency.

    Args:
        adj: ``(B, N, N)`` symmetric 0/1 adjacency with zero diagonal.

    Returns:
        node ``(B, N, 3)``: number of 3-, 4-, 5-cycles through each node;
        glob ``(B, 4)``: number of 3-, 4-, 5-, 6-cycles in each graph.
    """
    a = adj
    a2 = a @ a
    a3 = a2 @ a
    d = a.sum(-1)
    # diagonals of higher powers from products of symmetric lower ones (no extra matmuls)
    t2, t3 = _diag(a2), _diag(a3)
    t4 = (a2 * a2).sum(-1)
    t5 = (a2 * a3).sum(-1)
    tr6 = (a3 * a3).sum((-2, -1))
    c3 = t3 / 2
    c4 = (t4 - d * (d - 1) - (a @ d.unsqueeze(-1)).squeeze(-1)) / 2
    # closed 5-walks that are not 5-cycles traverse a triangle plus one back-and-forth step
    c5 = (t5 - 2 * d * t3 - 2 * ((a * a2) @ d.unsqueeze(-1)).squeeze(-1)
          - (a @ t3.unsqueeze(-1)).squeeze(-1) + 5 * t3) / 2
    g3 = c3.sum(-1) / 3
    g4 = c4.sum(-1) / 4
    g5 = c5.sum(-1) / 5
    g6 = (
        tr6
        - 3 * (t3**2).sum(-1)
        + 9 * (a * a2.pow(2)).sum((-2, -1))
        - 6 * (t2 * t4).sum(-1)
        + 6 * t4.sum(-1)
        - 4 * t3.sum(-1)
        + 4 * t2.pow(3).sum(-1)
        + 3 * a3.sum((-2, -1))
        - 12 * t2.pow(2).sum(-1)
        + 4 * t2.sum(-1)
    ) / 12
    return torch.stack([c3, c4, c5], -1), torch.stack([g3, g4, g5, g6], -1)


def valency_features(x_lab: Tensor, e_lab: Tensor, pmask: Tensor, bond_orders: Tensor, max_valences: Tensor,
                     charges: Tensor) -> Tensor:
    """Chemical valence channels ``(B, N, 3)``: current valence, remaining valence, formal charge.

    Args:
        x_lab: ``(B, N)`` long atom classes; e_lab: ``(B, N, N)`` long bond classes;
        pmask: ``(B, N, N)`` bool real off-diagonal pairs; bond_orders ``(de,)``,
        max_valences ``(dx,)``, charges ``(dx,)`` float lookup tables.
    """
    orders = bond_orders[e_lab] * pmask.to(bond_orders.dtype)
    valence = orders.sum(-1)
    remaining = max_valences[x_lab] - valence
    return torch.stack([valence / _VALENCE_SCALE, remaining / _VALENCE_SCALE, charges[x_lab]], -1)


class StructuralFeatures(nn.Module):
    """Compute :class:`GraphFeatures` from a :class:`DenseGraph` (no gradient, fully masked).

    Args:
        spec: molecular vocabulary (bond orders, maximal valences and charges of the atom classes).
        rw_steps: number of random-walk powers ``K`` (0 disables random-walk features).
        rw_pairs: add the ``K`` transition-probability pair channels.
        cycles: add cycle-count channels.
        valency: add valence/charge channels.
    """

    def __init__(self, spec: MolecularSpec, rw_steps: int = 4, rw_pairs: bool = False, cycles: bool = True,
                 valency: bool = True) -> None:
        super().__init__()
        if rw_steps < 0:
            raise ValueError(f"rw_steps must be >= 0, got {rw_steps}")
        self.rw_steps, self.rw_pairs, self.cycles, self.valency = int(rw_steps), bool(rw_pairs), cycles, valency
        self.max_nodes = int(spec.max_nodes)
        self.register_buffer("bond_orders", torch.tensor(spec.bond_orders, dtype=torch.float32), persistent=False)
        self.register_buffer("max_valences", torch.tensor(spec.max_valences, dtype=torch.float32), persistent=False)
        self.register_buffer("charges", torch.tensor(spec.charges, dtype=torch.float32), persistent=False)

    @property
    def node_dim(self) -> int:
        return max(self.rw_steps - 1, 0) + (3 if self.cycles else 0) + (3 if self.valency else 0)

    @property
    def pair_dim(self) -> int:
        return self.rw_steps if self.rw_pairs else 0

    @property
    def glob_dim(self) -> int:
        return 1 + (4 if self.cycles else 0)

    @torch.no_grad()
    def forward(self, graph: DenseGraph) -> GraphFeatures:
        x, e, node_mask = graph.x.detach(), graph.e.detach(), graph.node_mask
        dtype = x.dtype
        pmask = pair_mask(node_mask)
        x_lab = x.argmax(-1) * node_mask
        e_lab = e.argmax(-1) * pmask
        adj = (e_lab > 0).to(dtype)
        nm = node_mask.to(dtype)
        node, pair = [], []
        if self.rw_steps > 0:
            rw_node, rw_pair = random_walk_features(adj, self.rw_steps, self.rw_pairs)
            node.append(rw_node)
            pair.append(rw_pair)
        glob = [nm.sum(-1, keepdim=True) / self.max_nodes]
        if self.cycles:
            c_node, c_glob = cycle_counts(adj)
            node.append(c_node / _CYCLE_SCALE)
            glob.append(c_glob / _CYCLE_SCALE)
        if self.valency:
            node.append(valency_features(x_lab, e_lab, pmask, self.bond_orders.to(dtype),
                                         self.max_valences.to(dtype), self.charges.to(dtype)))
        B, N = node_mask.shape
        node_t = torch.cat(node, -1) * nm[..., None] if node else x.new_zeros(B, N, 0)
        pair_t = torch.cat(pair, -1) * pmask[..., None].to(dtype) if pair else x.new_zeros(B, N, N, 0)
        return GraphFeatures(node_t, pair_t, torch.cat(glob, -1))
