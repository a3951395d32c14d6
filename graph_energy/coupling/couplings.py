"""Pairing noise graphs ``x_0`` with data graphs ``x_1`` (METHOD.md §2, step 2).

A coupling returns a permutation ``perm (B,)`` of the noise batch such that ``x_0.index(perm)[b]``
is paired with ``x_1[b]``. Pairs always have the same node count: the noise is drawn with the data's
node counts, and a coupling only permutes inside groups of equal size.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from graph_energy.data.dense import DenseGraph

__all__ = ["Coupling", "IndependentCoupling", "OTCoupling", "graph_signature"]


def _check_sizes(x_0: DenseGraph, x_1: DenseGraph) -> tuple[Tensor, Tensor]:
    if x_0.batch_size != x_1.batch_size:
        raise ValueError(f"noise and data batches differ in size: {x_0.batch_size} vs {x_1.batch_size}")
    n0, n1 = x_0.num_nodes.cpu(), x_1.num_nodes.cpu()
    if not torch.equal(torch.sort(n0).values, torch.sort(n1).values):
        raise ValueError("noise and data batches must hold the same multiset of node counts; "
                         "draw the noise with the data's node counts")
    return n0, n1


class Coupling(ABC):
    """Chooses which noise graph travels to which data graph."""

    @abstractmethod
    def permutation(self, x_0: DenseGraph, x_1: DenseGraph, generator: torch.Generator | None = None) -> Tensor:
        """``(B,)`` long index into the noise batch; ``x_0.num_nodes[perm] == x_1.num_nodes``."""

    def __call__(self, x_0: DenseGraph, x_1: DenseGraph, generator: torch.Generator | None = None) -> DenseGraph:
        """The noise batch reordered to pair with ``x_1``."""
        perm = self.permutation(x_0, x_1, generator)
        return x_0.index(perm.to(x_0.x.device))


def _size_groups(n0: Tensor, n1: Tensor):
    """Yield ``(size, idx0, idx1)`` for each node count present."""
    for n in torch.unique(n1).tolist():
        yield n, (n0 == n).nonzero().view(-1), (n1 == n).nonzero().view(-1)


class IndependentCoupling(Coupling):
    """Random pairing within each size (the ablation; noise is i.i.d. so this equals no pairing).

    ``generator`` must be a CPU generator (indices are computed on the CPU).
    """

    def permutation(self, x_0: DenseGraph, x_1: DenseGraph, generator: torch.Generator | None = None) -> Tensor:
        n0, n1 = _check_sizes(x_0, x_1)
        perm = torch.empty_like(n1)
        for _, i0, i1 in _size_groups(n0, n1):
            perm[i1] = i0[torch.randperm(i0.numel(), generator=generator)]
        return perm


def graph_signature(g: DenseGraph) -> Tensor:
    """Permutation-invariant summary ``(B, dx + de + dx(dx+1)/2 * (de-1))`` of each graph.

    Concatenates the normalised node-class histogram, the edge-class histogram over real pairs
    ``i<j`` (normalised by the pair count), and the histogram of (unordered atom-class pair, bond
    class >= 1) triples over ``i<j`` (normalised by the pair count).
    """
    x, e = g.x.float(), g.e.float()
    n = g.num_nodes.clamp_min(1).float()
    pairs = (g.num_nodes * (g.num_nodes - 1) / 2).clamp_min(1).float()
    node_hist = x.sum(1) / n[:, None]
    edge_hist = e.sum((1, 2)) / 2 / pairs[:, None]
    # s[b,a,c,k] counts ordered pairs (i,j), i != j, with classes a, c and bond k: symmetric in (a,c).
    s = torch.einsum("bia,bjc,bijk->back", x, x, e[..., 1:])
    dx = x.shape[-1]
    iu = torch.triu_indices(dx, dx, device=x.device)
    tri = s[:, iu[0], iu[1]]  # (B, dx(dx+1)/2, de-1); diagonal atom pairs are counted twice
    diag = (iu[0] == iu[1]).to(tri.dtype)[None, :, None]
    tri = tri / (1.0 + diag)
    return torch.cat([node_hist, edge_hist, tri.flatten(1) / pairs[:, None]], dim=1)


class OTCoupling(Coupling):
    """Size-bucketed minibatch optimal transport on :func:`graph_signature` with L1 cost.

    Inside each group of graphs sharing a node count, the noise-data assignment minimising the total
    L1 distance between signatures is found with the Hungarian algorithm.
    """

    def permutation(self, x_0: DenseGraph, x_1: DenseGraph, generator: torch.Generator | None = None) -> Tensor:
        n0, n1 = _check_sizes(x_0, x_1)
        s0 = graph_signature(x_0).detach().double().cpu()
        s1 = graph_signature(x_1).detach().double().cpu()
        perm = torch.empty_like(n1)
        for _, i0, i1 in _size_groups(n0, n1):
            if i1.numel() == 1:
                perm[i1] = i0
                continue
            cost = torch.cdist(s1[i1], s0[i0], p=1).numpy()  # rows: data, cols: noise
            rows, cols = linear_sum_assignment(cost)
            perm[i1[torch.as_tensor(rows)]] = i0[torch.as_tensor(cols)]
        return perm

    @staticmethod
    def total_cost(x_0: DenseGraph, x_1: DenseGraph) -> float:
        """Sum of L1 signature distances of the pairs ``(x_0[b], x_1[b])``."""
        d = (graph_signature(x_0) - graph_signature(x_1)).abs().sum(-1)
        return float(np.float64(d.sum().item()))
