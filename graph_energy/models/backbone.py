"""The graph-transformer backbone: a dense batch of one-hot graphs -> node, edge and global features.

* inputs: one-hot ``X (B,N,dx)`` and ``E (B,N,N,de)`` concatenated with structural features of the
  detached discrete state (:mod:`graph_energy.models.features`), embedded by MLPs; the edge
  embedding is symmetrised ``½(e_ij + e_ji)``; the global vector starts from the graph-level features;
* ``n_layers`` node–edge–global blocks (:class:`~graph_energy.models.transformer.GraphTransformerLayer`);
* output LayerNorms, applied in the input precision (also under autocast).

What a network computes from these features is a head's business (:mod:`graph_energy.models.heads`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from graph_energy.data.dense import DenseGraph, pair_mask
from graph_energy.data.spec import MolecularSpec
from graph_energy.models.features import StructuralFeatures
from graph_energy.models.transformer import GraphTransformerLayer, mlp

__all__ = ["FeatureDims", "Features", "GraphTransformerBackbone"]

_AUTOCAST = {None: None, "none": None, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
             "fp16": torch.float16, "float16": torch.float16}


@dataclass(frozen=True)
class FeatureDims:
    """Widths of the backbone's output: node ``x``, edge ``e`` and global ``y`` channels."""

    x: int
    e: int
    y: int


@dataclass
class Features:
    """What a backbone hands to its heads (dtype of the input graph).

    Attributes:
        x: ``(B, N, hx)`` node features (padding rows carry finite values a head must mask).
        e: ``(B, N, N, he)`` edge features (not symmetric in ``(i, j)``; diagonal and padding unmasked).
        y: ``(B, hy)`` graph features.
        node_mask: ``(B, N)`` bool, real nodes.
        pair_mask: ``(B, N, N)`` bool, real off-diagonal pairs.
    """

    x: Tensor
    e: Tensor
    y: Tensor
    node_mask: Tensor
    pair_mask: Tensor


class GraphTransformerBackbone(nn.Module):
    """Node–edge–global graph transformer: ``forward(graph) -> Features``, permutation equivariant.

    Args:
        spec: molecular vocabulary (input widths ``dx``/``de`` and the facts the features need).
        n_layers, hidden_x, hidden_e, hidden_y, n_heads: depth, node/edge/global widths, heads
            (``n_heads`` must divide ``hidden_x`` and ``hidden_e``).
        ff_x, ff_e, ff_y: feed-forward widths (``ff_y`` defaults to ``2·hidden_y``).
        rw_steps, rw_pairs, cycles, valency: structural features (see :class:`StructuralFeatures`).
        dropout: dropout rate inside the blocks (0 by default: an energy's gradient field should be smooth).
        compile: ``torch.compile`` the dense forward; used in eval mode only (compiled graphs do not
            support the double backward the training loss needs).
        autocast: ``"bf16"``/``"fp16"`` autocast for the blocks (meant for CUDA; CPU supports bf16 but
            is rarely faster); the output LayerNorms (and the heads) stay in the input precision.
        allow_tf32: TF32 matmuls during the forward on CUDA.
        checkpoint_layers: memory-light mode, recompute each block in the backward pass.
    """

    def __init__(self, spec: MolecularSpec, n_layers: int, hidden_x: int, hidden_e: int, hidden_y: int,
                 n_heads: int, ff_x: int, ff_e: int, ff_y: int | None = None, rw_steps: int = 4,
                 rw_pairs: bool = False, cycles: bool = True, valency: bool = True, dropout: float = 0.0,
                 compile: bool = False, autocast: str | None = None, allow_tf32: bool = False,
                 checkpoint_layers: bool = False) -> None:
        super().__init__()
        if not isinstance(spec, MolecularSpec):
            raise TypeError(f"spec must be a MolecularSpec, got {type(spec).__name__}")
        for name, val in (("hidden_x", hidden_x), ("hidden_e", hidden_e)):
            if val % n_heads:
                raise ValueError(f"{name}={val} is not divisible by n_heads={n_heads}; pick a multiple")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        if autocast not in _AUTOCAST:
            raise ValueError(f"autocast={autocast!r} not understood; use one of {sorted(k for k in _AUTOCAST if k)}")
        self.spec = spec
        self.dims = FeatureDims(hidden_x, hidden_e, hidden_y)
        self.features = StructuralFeatures(spec, rw_steps=rw_steps, rw_pairs=rw_pairs, cycles=cycles,
                                           valency=valency)
        f = self.features
        dx, de = spec.num_atom_types, spec.num_bond_types
        ff_y = ff_y or 2 * hidden_y
        # parameter creation order (and so the initialisation under a seed) is part of the numbers
        # every trained model was made with: keep it
        self.in_x = mlp(dx + f.node_dim, hidden_x, hidden_x)
        self.in_e = mlp(de + f.pair_dim, hidden_e, hidden_e)
        self.in_y = mlp(f.glob_dim, hidden_y, hidden_y)
        self.layers = nn.ModuleList(GraphTransformerLayer(hidden_x, hidden_e, hidden_y, n_heads, ff_x, ff_e, ff_y,
                                                          dropout) for _ in range(n_layers))
        self.out_x, self.out_e, self.out_y = nn.LayerNorm(hidden_x), nn.LayerNorm(hidden_e), nn.LayerNorm(hidden_y)
        self.compile, self.autocast_dtype = bool(compile), _AUTOCAST[autocast]
        self.allow_tf32, self.checkpoint_layers = bool(allow_tf32), bool(checkpoint_layers)
        self._compiled = None

    def forward(self, graph: DenseGraph) -> Features:
        return self.encode(graph)

    def encode(self, graph: DenseGraph) -> Features:
        """:class:`Features` of a batch (also what subclasses that add a head call)."""
        self._check_classes(graph)
        feats = self.features(graph)
        return self._encode_features(graph, feats.node, feats.pair, feats.glob)

    def _check_classes(self, graph: DenseGraph) -> None:
        if graph.x.shape[-1] != self.spec.num_atom_types or graph.e.shape[-1] != self.spec.num_bond_types:
            raise ValueError(
                f"graph has dx={graph.x.shape[-1]}, de={graph.e.shape[-1]} but the model was built for "
                f"{self.spec.num_atom_types} atom and {self.spec.num_bond_types} bond classes")

    def _encode_features(self, graph: DenseGraph, f_node: Tensor, f_pair: Tensor, f_glob: Tensor) -> Features:
        """Run the layers on ``graph`` with the given structural/global input features."""
        core = self._dense_forward
        if self.compile and not self.training:
            if self._compiled is None:
                self._compiled = torch.compile(self._dense_forward, dynamic=True)
            core = self._compiled
        with self._speed_context(graph.x.device):
            x, e, y = core(graph.x, graph.e, graph.node_mask, f_node, f_pair, f_glob)
        return Features(x, e, y, graph.node_mask, graph.pair_mask)

    def _speed_context(self, device: torch.device):
        stack = contextlib.ExitStack()
        if self.autocast_dtype is not None:
            stack.enter_context(torch.autocast(device.type, dtype=self.autocast_dtype))
        if device.type == "cuda" and self.allow_tf32:
            stack.enter_context(_tf32())
        return stack

    def _dense_forward(self, x_in: Tensor, e_in: Tensor, node_mask: Tensor, f_node: Tensor, f_pair: Tensor,
                       f_glob: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        dtype = x_in.dtype
        pmask = pair_mask(node_mask)
        nm = node_mask.to(dtype)
        n_nodes = nm.sum(-1, keepdim=True)
        n_pairs = n_nodes * (n_nodes - 1)
        # finite (not -inf) so that padding queries, whose keys are all masked, stay finite
        key_bias = ((nm - 1.0) * 1e4)[:, None, :, None]
        x = self.in_x(torch.cat([x_in, f_node], -1))
        e = self.in_e(torch.cat([e_in, f_pair], -1) if f_pair.shape[-1] else e_in)
        e = 0.5 * (e + e.transpose(1, 2))
        y = self.in_y(f_glob)
        for layer in self.layers:
            if self.checkpoint_layers and torch.is_grad_enabled():
                x, e, y = checkpoint(layer, x, e, y, node_mask, pmask, key_bias, n_nodes, n_pairs, use_reentrant=False)
            else:
                x, e, y = layer(x, e, y, node_mask, pmask, key_bias, n_nodes, n_pairs)
        # the output in the input precision even under autocast: energy differences feed the
        # Metropolis-Hastings acceptance, where bf16 rounding would be visible
        with torch.autocast(x.device.type, enabled=False):
            x, e, y = x.to(dtype), e.to(dtype), y.to(dtype)
            return self.out_x(x), self.out_e(e), self.out_y(y)

    def extra_repr(self) -> str:
        n = sum(p.numel() for p in self.parameters())
        return f"params={n / 1e6:.2f}M, compile={self.compile}, autocast={self.autocast_dtype}"


@contextlib.contextmanager
def _tf32():
    old_mm, old_cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old_mm
        torch.backends.cudnn.allow_tf32 = old_cudnn
