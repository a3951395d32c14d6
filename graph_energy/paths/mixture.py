"""The per-coordinate mixture path between paired noise ``x_0`` and data ``x_1`` (METHOD.md §2, step 3-4).

With ``t ~ U(0,1)`` per pair of graphs, every real node and every real pair ``i<j`` independently
takes its data class with probability ``t`` and its noise class otherwise (the choice for ``(i,j)``
is mirrored to ``(j,i)``). The regression target is the displacement ``u = onehot(x_1) - onehot(x_0)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph

__all__ = ["PathSample", "MixturePath"]


@dataclass
class PathSample:
    """One draw of the path for a batch.

    Attributes:
        t: ``(B,)`` mixing times in ``[0, 1]``.
        x_t: the interpolated graph (a valid one-hot :class:`DenseGraph`).
        u_x: ``(B, N, dx)`` target node displacement ``onehot(x_1) - onehot(x_0)``, zero on padding.
        u_e: ``(B, N, N, de)`` target edge displacement, symmetric, zero on the diagonal and padding.
        x_0: the (paired) noise graphs.
        x_1: the data graphs.
    """

    t: Tensor
    x_t: DenseGraph
    u_x: Tensor
    u_e: Tensor
    x_0: DenseGraph
    x_1: DenseGraph


class MixturePath:
    """Per-coordinate Bernoulli(``t``) mixture of two one-hot graphs with the same node masks."""

    def sample(self, x_0: DenseGraph, x_1: DenseGraph, generator: torch.Generator | None = None,
               t: Tensor | None = None) -> PathSample:
        """Draw ``t`` (unless given, ``(B,)``) and ``x_t``; returns a :class:`PathSample`.

        Random numbers are drawn on the generator's device and moved to the graphs' device.
        """
        if x_0.x.shape != x_1.x.shape or x_0.e.shape != x_1.e.shape:
            raise ValueError(f"x_0 and x_1 must have equal shapes, got {tuple(x_0.x.shape)}/{tuple(x_0.e.shape)} "
                             f"and {tuple(x_1.x.shape)}/{tuple(x_1.e.shape)}")
        if not torch.equal(x_0.node_mask, x_1.node_mask):
            raise ValueError("x_0 and x_1 must have identical node masks (pair graphs of equal size)")
        B, N = x_1.node_mask.shape
        dev = x_1.x.device
        gdev = generator.device if generator is not None else torch.device("cpu")
        if t is None:
            t = torch.rand(B, generator=generator, device=gdev)
        t = torch.as_tensor(t, dtype=x_1.x.dtype).to(dev).view(B)
        if ((t < 0) | (t > 1)).any():
            raise ValueError("t must lie in [0, 1]")
        take_x = torch.rand(B, N, generator=generator, device=gdev).to(dev) < t[:, None]
        r = torch.rand(B, N, N, generator=generator, device=gdev).to(dev)
        r = torch.triu(r, diagonal=1)
        r = r + r.transpose(1, 2)
        take_e = r < t[:, None, None]
        x_t = DenseGraph(
            torch.where(take_x[..., None], x_1.x, x_0.x),
            torch.where(take_e[..., None], x_1.e, x_0.e),
            x_1.node_mask,
        )
        return PathSample(t=t, x_t=x_t, u_x=x_1.x - x_0.x, u_e=x_1.e - x_0.e, x_0=x_0, x_1=x_1)
