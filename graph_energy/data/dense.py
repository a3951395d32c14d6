"""The one graph currency of the library: a typed dense batch of one-hot graphs.

Conventions (checked by :meth:`DenseGraph.validate`):

* ``x``         ``(B, N, dx)`` float, one-hot node classes on real nodes, all-zero rows on padding;
* ``e``         ``(B, N, N, de)`` float, one-hot edge classes on real off-diagonal pairs (class 0 =
  no bond), symmetric in ``(i, j)``, all-zero on the diagonal and on any pair touching padding;
* ``node_mask`` ``(B, N)`` bool, ``True`` for real nodes.

Integer labels are a separate form, :class:`GraphLabels`, never the same object changing dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DenseGraph", "GraphLabels", "pair_mask"]


def pair_mask(node_mask: Tensor) -> Tensor:
    """``(B, N, N)`` bool mask of real off-diagonal pairs for a ``(B, N)`` node mask."""
    m = node_mask[:, :, None] & node_mask[:, None, :]
    eye = torch.eye(node_mask.shape[1], dtype=torch.bool, device=node_mask.device)
    return m & ~eye


@dataclass(frozen=True)
class GraphLabels:
    """Integer form of a dense batch.

    ``x`` ``(B, N)`` long node classes, ``e`` ``(B, N, N)`` long edge classes (symmetric, zero
    diagonal), ``node_mask`` ``(B, N)`` bool. Padding entries are 0.
    """

    x: Tensor
    e: Tensor
    node_mask: Tensor

    def to_onehot(self, num_node_classes: int, num_edge_classes: int, dtype=torch.float32) -> DenseGraph:
        return DenseGraph.from_labels(self.x, self.e, self.node_mask, num_node_classes, num_edge_classes, dtype)

    @property
    def num_nodes(self) -> Tensor:
        """``(B,)`` number of real nodes per graph."""
        return self.node_mask.sum(-1)


@dataclass(frozen=True)
class DenseGraph:
    """A batch of graphs as dense one-hot tensors (see module docstring for the conventions)."""

    x: Tensor
    e: Tensor
    node_mask: Tensor

    # ------------------------------------------------------------------ shape facts
    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    @property
    def max_nodes(self) -> int:
        return self.x.shape[1]

    @property
    def num_node_classes(self) -> int:
        return self.x.shape[-1]

    @property
    def num_edge_classes(self) -> int:
        return self.e.shape[-1]

    @property
    def num_nodes(self) -> Tensor:
        """``(B,)`` number of real nodes per graph."""
        return self.node_mask.sum(-1)

    @property
    def pair_mask(self) -> Tensor:
        """``(B, N, N)`` bool mask of real off-diagonal pairs."""
        return pair_mask(self.node_mask)

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_labels(
        cls,
        x: Tensor,
        e: Tensor,
        node_mask: Tensor,
        num_node_classes: int,
        num_edge_classes: int,
        dtype: torch.dtype = torch.float32,
    ) -> DenseGraph:
        """One-hot encode integer labels ``x (B,N)``, ``e (B,N,N)`` under ``node_mask (B,N)``."""
        if x.dim() != 2 or e.dim() != 3 or node_mask.shape != x.shape:
            raise ValueError(
                f"expected x (B,N), e (B,N,N), node_mask (B,N); got {tuple(x.shape)}, "
                f"{tuple(e.shape)}, {tuple(node_mask.shape)}"
            )
        node_mask = node_mask.bool()
        pm = pair_mask(node_mask)
        xo = F.one_hot(x.long().clamp_min(0), num_node_classes).to(dtype) * node_mask[..., None].to(dtype)
        eo = F.one_hot(e.long().clamp_min(0), num_edge_classes).to(dtype) * pm[..., None].to(dtype)
        return cls(xo, eo, node_mask)

    def to_labels(self) -> GraphLabels:
        """Integer labels (argmax); padding and the diagonal become 0."""
        x = self.x.argmax(-1) * self.node_mask
        e = self.e.argmax(-1) * self.pair_mask
        return GraphLabels(x, e, self.node_mask)

    @classmethod
    def from_pyg(cls, batch, num_node_classes: int, num_edge_classes: int, max_nodes: int | None = None,
                 dtype: torch.dtype = torch.float32) -> DenseGraph:
        """Dense batch from a PyG ``Batch`` whose ``x`` holds node class ids ``(n,)`` and ``edge_attr``
        edge class ids ``(m,)`` (both directions stored, class 0 never stored)."""
        from torch_geometric.utils import to_dense_adj, to_dense_batch

        x_ids = batch.x.long().view(-1)
        b = getattr(batch, "batch", None)
        if b is None:
            b = torch.zeros(x_ids.shape[0], dtype=torch.long, device=x_ids.device)
        bs = int(b.max()) + 1 if b.numel() else 0
        x_dense, mask = to_dense_batch(x_ids, b, fill_value=0, max_num_nodes=max_nodes, batch_size=bs)
        n = x_dense.shape[1]
        if batch.edge_index.numel():
            e_dense = to_dense_adj(batch.edge_index, b, batch.edge_attr.long().view(-1), max_num_nodes=n,
                                   batch_size=bs).long()
        else:
            e_dense = torch.zeros(bs, n, n, dtype=torch.long, device=x_ids.device)
        return cls.from_labels(x_dense, e_dense, mask, num_node_classes, num_edge_classes, dtype)

    def to_pyg_list(self) -> list:
        """One PyG ``Data`` per graph with integer ``x (n,)``, ``edge_index (2,m)``, ``edge_attr (m,)``."""
        from torch_geometric.data import Data

        lab = self.to_labels()
        out = []
        for b in range(self.batch_size):
            n = int(lab.node_mask[b].sum())
            keep = lab.node_mask[b].nonzero().view(-1)
            xb = lab.x[b, keep]
            eb = lab.e[b][keep][:, keep]
            idx = eb.nonzero().t().contiguous()
            out.append(Data(x=xb, edge_index=idx, edge_attr=eb[idx[0], idx[1]], num_nodes=n))
        return out

    # ------------------------------------------------------------------ utilities
    def to(self, *args, **kwargs) -> DenseGraph:
        return DenseGraph(self.x.to(*args, **kwargs), self.e.to(*args, **kwargs),
                          self.node_mask.to(kwargs.get("device", args[0] if args and not isinstance(args[0], torch.dtype) else self.node_mask.device)))

    def detach(self) -> DenseGraph:
        return DenseGraph(self.x.detach(), self.e.detach(), self.node_mask)

    def index(self, idx) -> DenseGraph:
        """Sub-batch selected by an index or boolean mask over the batch dimension."""
        return DenseGraph(self.x[idx], self.e[idx], self.node_mask[idx])

    @staticmethod
    def cat(graphs: list[DenseGraph]) -> DenseGraph:
        """Concatenate along the batch, padding every member to the largest ``N``."""
        n = max(g.max_nodes for g in graphs)
        xs, es, ms = [], [], []
        for g in graphs:
            p = n - g.max_nodes
            xs.append(F.pad(g.x, (0, 0, 0, p)))
            es.append(F.pad(g.e, (0, 0, 0, p, 0, p)))
            ms.append(F.pad(g.node_mask, (0, p), value=False))
        return DenseGraph(torch.cat(xs), torch.cat(es), torch.cat(ms))

    def validate(self, atol: float = 0.0) -> DenseGraph:
        """Check the dense conventions; raise ``ValueError`` naming the first broken one. Returns self."""
        x, e, m = self.x, self.e, self.node_mask
        if x.dim() != 3 or e.dim() != 4 or m.dim() != 2:
            raise ValueError(f"bad ranks: x {tuple(x.shape)}, e {tuple(e.shape)}, node_mask {tuple(m.shape)}")
        B, N, _ = x.shape
        if e.shape[:3] != (B, N, N) or m.shape != (B, N):
            raise ValueError(f"shape mismatch: x {tuple(x.shape)}, e {tuple(e.shape)}, node_mask {tuple(m.shape)}")
        if m.dtype != torch.bool:
            raise ValueError(f"node_mask must be bool, got {m.dtype}")
        pm = pair_mask(m)
        if not torch.allclose(e, e.transpose(1, 2), atol=atol):
            raise ValueError("edge tensor is not symmetric: e[:, i, j] != e[:, j, i]")
        diag = torch.diagonal(e, dim1=1, dim2=2)
        if diag.abs().max().item() > atol if diag.numel() else False:
            raise ValueError("edge tensor has a non-zero diagonal (self loops)")
        if x[~m].abs().max().item() > atol if (~m).any() else False:
            raise ValueError("padding nodes carry non-zero features")
        pad_pairs = ~pm & ~torch.eye(N, dtype=torch.bool, device=m.device)
        if pad_pairs.any() and e[pad_pairs].abs().max().item() > atol:
            raise ValueError("pairs touching padding carry non-zero features")

        def onehot(t: Tensor, what: str) -> None:
            if t.numel() == 0:
                return
            if ((t - t.round()).abs() > atol).any() or (t < -atol).any() or (t > 1 + atol).any():
                raise ValueError(f"{what} is not one-hot (entries outside {{0,1}})")
            if ((t.sum(-1) - 1).abs() > atol).any():
                raise ValueError(f"{what} is not one-hot (rows do not sum to 1)")

        onehot(x[m], "node tensor x")
        onehot(e[pm], "edge tensor e")
        return self
