"""Heads: what a network computes from the backbone's :class:`~graph_energy.models.backbone.Features`.

A head is built by its network, which passes the backbone widths and the dataset spec:
``HeadClass(dims=FeatureDims, spec=MolecularSpec, **options)``. In YAML a head is a partial
``_target_`` node whose keys are the options::

    head:
      _target_: graph_energy.models.heads.RegressionHead
      _partial_: true
      num_targets: 3

Heads run in the input precision (the network disables autocast around them) and must be
invariant (graph-level outputs) or equivariant (node/edge outputs) under node permutations and
blind to padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from graph_energy.data.spec import MolecularSpec
from graph_energy.models.backbone import FeatureDims, Features
from graph_energy.models.transformer import mlp

__all__ = ["Head", "EnergyHead", "RegressionHead", "ClassHead", "ClassLogits", "pooled_sums"]


def pooled_sums(features: Features, max_nodes: int) -> Tensor:
    """``[Σ_i x_i, Σ_{i≠j} e_ij] / max_nodes`` over real nodes / real off-diagonal pairs, and ``y``.

    Scaling by the fixed ``1/max_nodes`` (not by the graph's own size) keeps the size information an
    extensive quantity needs. Returns ``(B, hx + he + hy)``.
    """
    dtype = features.x.dtype
    sx = (features.x * features.node_mask[..., None].to(dtype)).sum(1)
    se = (features.e * features.pair_mask[..., None].to(dtype)).sum((1, 2))
    return torch.cat([sx / max_nodes, se / max_nodes, features.y], -1)


class Head(nn.Module):
    """Base class of the heads: ``forward(features) -> output`` (a tensor or an output dataclass).

    Args:
        dims: widths of the backbone features (passed by the network).
        spec: the dataset spec (passed by the network).
    """

    def __init__(self, dims: FeatureDims, spec: MolecularSpec) -> None:
        super().__init__()
        if not isinstance(dims, FeatureDims):
            raise TypeError(f"dims must be a FeatureDims (the backbone widths), got {type(dims).__name__}")
        if not isinstance(spec, MolecularSpec):
            raise TypeError(f"spec must be a MolecularSpec, got {type(spec).__name__}")
        self.dims = dims
        self.max_nodes = int(spec.max_nodes)

    def forward(self, features: Features):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(features)")


class EnergyHead(Head):
    """Scalar energy ``E = MLP(pooled_sums(features))``, shape ``(B,)``.

    The MLP has hidden width ``hx`` and a bias-free last layer: a constant energy offset is
    meaningless (only gradients and differences are used) and would be the one parameter the
    gradient-matching loss never reaches.
    """

    def __init__(self, dims: FeatureDims, spec: MolecularSpec) -> None:
        super().__init__(dims, spec)
        layers = mlp(dims.x + dims.e + dims.y, dims.x, 1)
        # the biased layer made (and replaced) here draws from the RNG like the original network did,
        # so a seed still gives the initialisation of every model trained so far
        layers[-1] = nn.Linear(dims.x, 1, bias=False)
        # children "0", "1", "2" (no wrapper module): the parameter names head.0.weight, head.0.bias,
        # head.2.weight of the stored checkpoints
        for name, layer in layers.named_children():
            self.add_module(name, layer)

    def forward(self, features: Features) -> Tensor:
        h = pooled_sums(features, self.max_nodes)
        for layer in self.children():
            h = layer(h)
        return h.squeeze(-1)


class RegressionHead(Head):
    """Graph-level regression of ``num_targets`` values (e.g. a learned property predictor).

    ``MLP(pooled_sums(features))`` with hidden width ``hidden`` (default ``hx``), shape ``(B, num_targets)``.
    """

    def __init__(self, dims: FeatureDims, spec: MolecularSpec, num_targets: int = 1, hidden: int | None = None) -> None:
        super().__init__(dims, spec)
        if int(num_targets) < 1:
            raise ValueError(f"num_targets must be >= 1, got {num_targets}")
        if hidden is not None and int(hidden) < 1:
            raise ValueError(f"hidden must be >= 1 (or null for the node width), got {hidden}")
        self.num_targets = int(num_targets)
        self.mlp = mlp(dims.x + dims.e + dims.y, int(hidden or dims.x), self.num_targets)

    def forward(self, features: Features) -> Tensor:
        return self.mlp(pooled_sums(features, self.max_nodes))


@dataclass
class ClassLogits:
    """Per-node and per-edge class logits.

    Attributes:
        x: ``(B, N, dx)``, zero on padding nodes.
        e: ``(B, N, N, de)``, symmetric in ``(i, j)``, zero on the diagonal and on pairs touching padding.
    """

    x: Tensor
    e: Tensor


class ClassHead(Head):
    """Node-class and edge-class logits (denoising / discrete flow matching): :class:`ClassLogits`.

    One MLP per node (``hx → hidden_x → dx``) and one per pair (``he → hidden_e → de``; widths default
    to the input widths); edge logits are symmetrised ``½(l_ij + l_ji)`` (the edge features are not
    symmetric), then masked.
    """

    def __init__(self, dims: FeatureDims, spec: MolecularSpec, hidden_x: int | None = None,
                 hidden_e: int | None = None) -> None:
        super().__init__(dims, spec)
        for name, val in (("hidden_x", hidden_x), ("hidden_e", hidden_e)):
            if val is not None and int(val) < 1:
                raise ValueError(f"{name} must be >= 1 (or null for the backbone width), got {val}")
        self.node = mlp(dims.x, int(hidden_x or dims.x), spec.num_atom_types)
        self.edge = mlp(dims.e, int(hidden_e or dims.e), spec.num_bond_types)

    def forward(self, features: Features) -> ClassLogits:
        dtype = features.x.dtype
        x = self.node(features.x) * features.node_mask[..., None].to(dtype)
        e = self.edge(features.e)
        e = 0.5 * (e + e.transpose(1, 2)) * features.pair_mask[..., None].to(dtype)
        return ClassLogits(x, e)
