"""Time-conditioned networks for discrete flow matching (the same-backbone baseline of GEM).

A discrete flow-matching (DFM) model predicts the clean graph ``x_1`` from a noisy one ``x_t`` at
time ``t ∈ [0, 1]``: per-node and per-edge class logits (:class:`~graph_energy.models.heads.ClassHead`).
It is the graph-transformer backbone of the energy model with the time added as extra *global*
input channels: the global vector FiLM-modulates every node and edge update of every block, so the
time reaches the whole network. The energy model is untouched (its backbone class, parameter
creation order and numbers are those of :class:`~graph_energy.models.backbone.GraphTransformerBackbone`).

* :func:`time_features` ``t (B,) -> (B, 1 + 2K)``: ``[t, sin(πkt), cos(πkt)]`` for ``k = 1..K``;
* :class:`TimeConditionedBackbone`: ``encode(graph, t) -> Features``;
* :class:`FlowTransformer`: backbone + class head with the flat backbone arguments of the model
  presets (``conf/model/*.yaml``), so ``model=small`` gives the GEM backbone widths; ``forward(graph, t)``
  returns :class:`~graph_energy.models.heads.ClassLogits`.

:func:`model_kind` tells a sampler which kind of network it has (``"energy"`` or ``"dfm"``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec
from graph_energy.models.backbone import Features, GraphTransformerBackbone
from graph_energy.models.heads import ClassHead
from graph_energy.models.network import HeadFactory, _apply_head, build_head
from graph_energy.models.transformer import mlp

__all__ = ["time_features", "TimeConditionedBackbone", "FlowTransformer", "model_kind", "ENERGY", "DFM"]

ENERGY = "energy"
DFM = "dfm"


def model_kind(model: Any) -> str:
    """``"dfm"`` for a discrete flow-matching network (a ``model_kind`` attribute), ``"energy"`` otherwise."""
    return str(getattr(model, "model_kind", ENERGY))


def time_features(t: Tensor, frequencies: int) -> Tensor:
    """``[t, sin(π k t), cos(π k t)]_{k=1..K}`` of ``t (B,)``: shape ``(B, 1 + 2K)``."""
    t = t.reshape(-1, 1)
    if frequencies == 0:
        return t
    k = torch.arange(1, frequencies + 1, device=t.device, dtype=t.dtype) * math.pi
    return torch.cat([t, torch.sin(k * t), torch.cos(k * t)], -1)


class TimeConditionedBackbone(GraphTransformerBackbone):
    """The graph-transformer backbone with the time as extra global input channels.

    Args:
        spec, *args, **kwargs: as :class:`GraphTransformerBackbone`.
        time_frequencies: ``K`` of :func:`time_features` (the global input gains ``1 + 2K`` channels).
    """

    def __init__(self, spec: MolecularSpec, *args: Any, time_frequencies: int = 4, **kwargs: Any) -> None:
        super().__init__(spec, *args, **kwargs)
        if int(time_frequencies) < 0:
            raise ValueError(f"time_frequencies must be >= 0, got {time_frequencies}")
        self.time_frequencies = int(time_frequencies)
        # the global input MLP of the parent, widened by the time channels (a new model: new initial weights)
        self.in_y = mlp(self.features.glob_dim + 1 + 2 * self.time_frequencies, self.dims.y, self.dims.y)

    def forward(self, graph: DenseGraph, t: Tensor) -> Features:
        return self.encode(graph, t)

    def encode(self, graph: DenseGraph, t: Tensor | None = None) -> Features:
        """:class:`Features` of a batch at times ``t`` (``(B,)`` in ``[0, 1]``, or a float for all graphs)."""
        if t is None:
            raise ValueError("a time-conditioned network needs the time: call model(graph, t) with t of shape (B,)")
        self._check_classes(graph)
        B = graph.batch_size
        t = torch.as_tensor(t, dtype=graph.x.dtype, device=graph.x.device)
        t = t.expand(B) if t.dim() == 0 else t.reshape(-1)
        if t.shape[0] != B:
            raise ValueError(f"t must have one time per graph, shape ({B},), got {tuple(t.shape)}")
        feats = self.features(graph)
        glob = torch.cat([feats.glob, time_features(t, self.time_frequencies)], -1)
        return self._encode_features(graph, feats.node, feats.pair, glob)


class FlowTransformer(TimeConditionedBackbone):
    """Time-conditioned graph transformer with a class head: ``forward(graph, t) -> ClassLogits``.

    Args:
        spec, *args, **kwargs: the backbone's arguments (those of the model presets).
        head: head module, class or partial (default :class:`ClassHead`); see
            :func:`~graph_energy.models.network.build_head`.
        time_frequencies: see :class:`TimeConditionedBackbone`.

    Parameter names are those of the energy network (``in_x.*``, ``layers.*``, ``head.*``).
    """

    model_kind = DFM

    def __init__(self, spec: MolecularSpec, *args: Any, head: nn.Module | HeadFactory = ClassHead,
                 time_frequencies: int = 4, **kwargs: Any) -> None:
        super().__init__(spec, *args, time_frequencies=time_frequencies, **kwargs)
        self.head = build_head(head, self.dims, spec)

    def forward(self, graph: DenseGraph, t: Tensor):
        return _apply_head(self.head, self.encode(graph, t))
