"""Networks = a backbone and a head.

* :class:`GraphNetwork` composes any backbone (``forward(graph) -> Features``, a ``dims`` attribute)
  with any head; parameters are named ``backbone.*`` and ``head.*``. New kinds of model use it.
* :class:`GraphTransformerEnergy` is the graph-transformer backbone with its head (by default the
  scalar :class:`~graph_energy.models.heads.EnergyHead`) built from the flat backbone arguments, with
  the parameter names (``in_x.*``, ``layers.*``, ``head.*``) of every stored energy checkpoint.

Both run the head outside autocast, in the precision of the input graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec
from graph_energy.models.backbone import FeatureDims, Features, GraphTransformerBackbone
from graph_energy.models.heads import EnergyHead, Head

__all__ = ["GraphNetwork", "GraphTransformerEnergy", "build_head"]

HeadFactory = Callable[..., nn.Module]


def build_head(head: nn.Module | HeadFactory, dims: FeatureDims, spec: MolecularSpec) -> nn.Module:
    """A built head, or ``head(dims=dims, spec=spec)`` for a head class / partial (what YAML gives)."""
    if isinstance(head, nn.Module):
        if isinstance(head, Head) and head.dims != dims:
            raise ValueError(f"head {type(head).__name__} was built for {head.dims}, the backbone gives {dims}; "
                             "pass the head class (or a partial) and let the network build it")
        return head
    if not callable(head):
        raise TypeError(f"head must be a head module, class or partial, got {type(head).__name__}")
    out = head(dims=dims, spec=spec)
    if not isinstance(out, nn.Module):
        raise TypeError(f"head factory {head!r} returned a {type(out).__name__}, not a torch module")
    return out


def _apply_head(head: nn.Module, features: Features) -> Any:
    with torch.autocast(features.x.device.type, enabled=False):
        return head(features)


class GraphNetwork(nn.Module):
    """``head(backbone(graph))``: ``(B,)`` energies for an energy head, the head's output otherwise.

    Args:
        spec: the dataset spec (passed to factories).
        backbone: a backbone module, or a factory called as ``backbone(spec=spec)`` (a partial
            ``_target_`` node in YAML).
        head: a head module, or a factory called as ``head(dims=backbone.dims, spec=spec)``.

    Example::

        GraphNetwork(spec, GraphTransformerBackbone(spec, **widths), RegressionHead)
    """

    def __init__(self, spec: MolecularSpec, backbone: nn.Module | Callable[..., nn.Module],
                 head: nn.Module | HeadFactory = EnergyHead) -> None:
        super().__init__()
        if not isinstance(spec, MolecularSpec):
            raise TypeError(f"spec must be a MolecularSpec, got {type(spec).__name__}")
        if not isinstance(backbone, nn.Module):
            if not callable(backbone):
                raise TypeError(f"backbone must be a module, class or partial, got {type(backbone).__name__}")
            backbone = backbone(spec=spec)
        if not isinstance(getattr(backbone, "dims", None), FeatureDims):
            raise TypeError(f"backbone {type(backbone).__name__} has no FeatureDims 'dims' attribute; "
                            "use a backbone such as GraphTransformerBackbone")
        self.spec = spec
        self.backbone = backbone
        self.head = build_head(head, backbone.dims, spec)

    def forward(self, graph: DenseGraph) -> Any:
        return _apply_head(self.head, self.backbone(graph))


class GraphTransformerEnergy(GraphTransformerBackbone):
    """The graph transformer with a head, by default the permutation-invariant scalar energy.

    Args:
        spec, *args, **kwargs: the backbone's arguments (:class:`GraphTransformerBackbone`:
            ``n_layers, hidden_x, hidden_e, hidden_y, n_heads, ff_x, ff_e, ff_y, rw_steps, ...``).
        head: head module, class or partial (default :class:`EnergyHead`); see :func:`build_head`.

    ``forward(graph) -> (B,)`` energies in the dtype of ``graph.x`` (with the default head);
    :meth:`encode` gives the backbone's :class:`Features`.
    """

    def __init__(self, spec: MolecularSpec, *args: Any, head: nn.Module | HeadFactory = EnergyHead,
                 **kwargs: Any) -> None:
        super().__init__(spec, *args, **kwargs)
        self.head = build_head(head, self.dims, spec)

    def forward(self, graph: DenseGraph) -> Tensor:
        return _apply_head(self.head, self.encode(graph))
