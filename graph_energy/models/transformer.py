"""Node–edge–global graph-transformer energy ``E_θ(X, E)``.

Architecture (pre-norm residual blocks; ``hx``/``he``/``hy`` node/edge/global widths, ``H`` heads):

* inputs: one-hot ``X (B,N,dx)`` and ``E (B,N,N,de)`` concatenated with detached structural features
  (:mod:`graph_energy.models.features`), embedded by MLPs; the edge embedding is symmetrised
  ``½(e_ij + e_ji)``; the global vector starts from the graph-level features;
* attention: per-channel scores ``s_ijc = q_ic k_jc / √d_h · (1 + m_ijc) + a_ijc`` with ``(m, a)``
  a FiLM of the edge state (``q, k`` have the edge width ``he``); head logits sum the channels of a
  head; a masked softmax over keys aggregates values with a batched matmul (no 5-D broadcasts);
* edge update from the scores ``e += W s``, node update from the attention output, both FiLM-ed by
  the global vector; feed-forward blocks for nodes and edges;
* global update ``y += MLP([y, pool(x), pool(e)])`` with masked mean/soft-min/soft-max/std over real
  nodes and real off-diagonal pairs (:func:`masked_stats`), so padding never changes an output;
* head: MLP on ``[Σ_i x_i, Σ_{i≠j} e_ij, y]`` (masked sums scaled by ``1/max_nodes``) → one scalar.

Pair tensors keep the edge width ``he`` (not ``hx``): the ``N²`` part of the network is where the
time goes, and this keeps the per-pair cost at ``O(he²)``.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from graph_energy.data.dense import DenseGraph, pair_mask
from graph_energy.data.spec import MolecularSpec
from graph_energy.models.features import StructuralFeatures
from graph_energy.models.ops import SiLU

__all__ = ["GraphTransformerEnergy", "EnergyLayer", "masked_stats"]

_AUTOCAST = {None: None, "none": None, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
             "fp16": torch.float16, "float16": torch.float16}


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), SiLU(), nn.Linear(d_hidden, d_out))


def masked_stats(t: Tensor, mask: Tensor, count: Tensor, tau: float = 1.0) -> Tensor:
    """Mean, soft-min, soft-max and std of ``t (B, M, C)`` over the entries with ``mask (B, M)`` true.

    ``count (B, 1)`` is ``mask.sum(-1, keepdim=True)`` (passed in to share it). Empty sets give
    zeros (std ``√1e-6``). Returns ``(B, 4C)``.

    Max and min are the smooth ``±τ·logsumexp(±t/τ) ∓ τ·log(count)`` (between the mean and the hard
    max/min, within ``τ·log(count)`` of the latter): one-hot inputs make symmetric atoms tie
    exactly, and at a tie a hard max has no unique gradient (eager and compiled kernels pick
    different subgradients); the smooth version has one. Sums are batched matmuls with the mask as weights; masked entries get a finite
    ``∓1e4`` bias (finite so that empty sets stay NaN-free in the backward pass).
    """
    w = mask.to(t.dtype).unsqueeze(1)                                   # (B, 1, M)
    denom = count.clamp_min(1.0)
    mean = (w @ t).squeeze(1) / denom
    centred = t - mean.unsqueeze(1)
    var = (w @ (centred * centred)).squeeze(1) / denom
    std = torch.sqrt(var + 1e-6)
    bias = ((1.0 - w) * (1e4 / tau)).transpose(1, 2)                   # (B, M, 1)
    t_tau = t if tau == 1.0 else t / tau
    log_n = torch.log(denom)
    soft_max = tau * (torch.logsumexp(t_tau - bias, dim=1) - log_n)
    soft_min = -tau * (torch.logsumexp(-bias - t_tau, dim=1) - log_n)
    empty = count == 0
    soft_max = torch.where(empty, 0.0, soft_max)
    soft_min = torch.where(empty, 0.0, soft_min)
    return torch.cat([mean, soft_min, soft_max, std], -1)


class EnergyLayer(nn.Module):
    """One node–edge–global block. Shapes: ``x (B,N,hx)``, ``e (B,N,N,he)``, ``y (B,hy)``."""

    def __init__(self, hx: int, he: int, hy: int, n_heads: int, ff_x: int, ff_e: int, ff_y: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.hx, self.he, self.hy, self.n_heads = hx, he, hy, n_heads
        self.scale = 1.0 / math.sqrt(he // n_heads)
        self.ln_x, self.ln_e, self.ln_y = nn.LayerNorm(hx), nn.LayerNorm(he), nn.LayerNorm(hy)
        self.qkv = nn.Linear(hx, 2 * he + hx)            # fused q, k (edge width) and v (node width)
        # multiplicative and additive score modulation (two layers: a split would cost a cat in backward)
        self.e_mul, self.e_add = nn.Linear(he, he), nn.Linear(he, he)
        # sums the channels of each head with one matmul: (he, H) block indicator
        self.register_buffer("head_sum", torch.repeat_interleave(torch.eye(n_heads), he // n_heads, 0),
                             persistent=False)
        self.y_film = nn.Linear(hy, 2 * hx + 2 * he)     # global FiLM of the node and edge updates
        self.x_out, self.e_out = nn.Linear(hx, hx), nn.Linear(he, he)
        self.ln_x2, self.ln_e2 = nn.LayerNorm(hx), nn.LayerNorm(he)
        self.ff_x, self.ff_e = _mlp(hx, ff_x, hx), _mlp(he, ff_e, he)
        self.ff_y = _mlp(hy + 4 * hx + 4 * he, ff_y, hy)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor, e: Tensor, y: Tensor, node_mask: Tensor, pmask: Tensor, key_bias: Tensor,
                n_nodes: Tensor, n_pairs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``key_bias (B,1,N,1)`` is 0 on real and ``-1e4`` on padding keys; ``n_nodes``/``n_pairs``
        ``(B,1)`` count real nodes and real off-diagonal pairs."""
        B, N, _ = x.shape
        H, he, hx = self.n_heads, self.he, self.hx
        q, k, v = self.qkv(self.ln_x(x)).split([he, he, hx], -1)
        eh = self.ln_e(e)
        s = torch.addcmul(self.e_add(eh), (q * self.scale)[:, :, None] * k[:, None], 1.0 + self.e_mul(eh))
        logits = s @ self.head_sum.to(s.dtype)                                         # (B,N,N,H)
        logits = logits + key_bias                                                       # mask keys
        attn = logits.softmax(dim=2).permute(0, 3, 1, 2)                               # (B,H,N,N)
        vh = v.view(B, N, H, hx // H).transpose(1, 2)                                  # (B,H,N,dv)
        agg = (attn @ vh).transpose(1, 2).reshape(B, N, hx)
        gxm, gxa, gem, gea = self.y_film(y).split([hx, hx, he, he], -1)
        x = x + self.drop(torch.addcmul(gxa[:, None], self.x_out(agg), 1.0 + gxm[:, None]))
        e = e + self.drop(torch.addcmul(gea[:, None, None], self.e_out(s), 1.0 + gem[:, None, None]))
        x = x + self.drop(self.ff_x(self.ln_x2(x)))
        e = e + self.drop(self.ff_e(self.ln_e2(e)))
        px = masked_stats(x, node_mask, n_nodes)
        pe = masked_stats(e.reshape(B, N * N, he), pmask.reshape(B, N * N), n_pairs)
        y = y + self.drop(self.ff_y(torch.cat([self.ln_y(y), px, pe], -1)))
        return x, e, y


class GraphTransformerEnergy(nn.Module):
    """Permutation-invariant scalar energy of a batch of molecular graphs.

    Args:
        spec: molecular vocabulary (input widths ``dx``/``de`` and the facts the features need).
        n_layers, hidden_x, hidden_e, hidden_y, n_heads: depth, node/edge/global widths, heads
            (``n_heads`` must divide ``hidden_x`` and ``hidden_e``).
        ff_x, ff_e, ff_y: feed-forward widths (``ff_y`` defaults to ``2·hidden_y``).
        rw_steps, rw_pairs, cycles, valency: structural features (see :class:`StructuralFeatures`).
        dropout: dropout rate inside the blocks (0 by default: the gradient field should be smooth).
        compile: ``torch.compile`` the dense forward; used in eval mode only (compiled graphs do not
            support the double backward the training loss needs).
        autocast: ``"bf16"``/``"fp16"`` autocast for the blocks (meant for CUDA; CPU supports bf16 but
            is rarely faster); pooling and head stay in the input precision.
        allow_tf32: TF32 matmuls during the forward on CUDA.
        checkpoint_layers: memory-light mode, recompute each block in the backward pass.

    ``forward(graph) -> (B,)`` energies in the dtype of ``graph.x``.
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
        self.max_nodes = spec.max_nodes
        self.features = StructuralFeatures(spec, rw_steps=rw_steps, rw_pairs=rw_pairs, cycles=cycles,
                                           valency=valency)
        f = self.features
        dx, de = spec.num_atom_types, spec.num_bond_types
        ff_y = ff_y or 2 * hidden_y
        self.in_x = _mlp(dx + f.node_dim, hidden_x, hidden_x)
        self.in_e = _mlp(de + f.pair_dim, hidden_e, hidden_e)
        self.in_y = _mlp(f.glob_dim, hidden_y, hidden_y)
        self.layers = nn.ModuleList(EnergyLayer(hidden_x, hidden_e, hidden_y, n_heads, ff_x, ff_e, ff_y, dropout)
                                    for _ in range(n_layers))
        self.out_x, self.out_e, self.out_y = nn.LayerNorm(hidden_x), nn.LayerNorm(hidden_e), nn.LayerNorm(hidden_y)
        self.head = _mlp(hidden_x + hidden_e + hidden_y, hidden_x, 1)
        # a constant energy offset is meaningless (only gradients and differences are used) and
        # would be the one parameter the gradient-matching loss never reaches
        self.head[-1] = nn.Linear(hidden_x, 1, bias=False)
        self.compile, self.autocast_dtype = bool(compile), _AUTOCAST[autocast]
        self.allow_tf32, self.checkpoint_layers = bool(allow_tf32), bool(checkpoint_layers)
        self._compiled = None

    # ------------------------------------------------------------------ forward
    def forward(self, graph: DenseGraph) -> Tensor:
        if graph.x.shape[-1] != self.spec.num_atom_types or graph.e.shape[-1] != self.spec.num_bond_types:
            raise ValueError(
                f"graph has dx={graph.x.shape[-1]}, de={graph.e.shape[-1]} but the model was built for "
                f"{self.spec.num_atom_types} atom and {self.spec.num_bond_types} bond classes")
        feats = self.features(graph)
        core = self._dense_forward
        if self.compile and not self.training:
            if self._compiled is None:
                self._compiled = torch.compile(self._dense_forward, dynamic=True)
            core = self._compiled
        with self._speed_context(graph.x.device):
            energy = core(graph.x, graph.e, graph.node_mask, feats.node, feats.pair, feats.glob)
        return energy.to(graph.x.dtype)

    def _speed_context(self, device: torch.device):
        stack = contextlib.ExitStack()
        if self.autocast_dtype is not None:
            stack.enter_context(torch.autocast(device.type, dtype=self.autocast_dtype))
        if device.type == "cuda" and self.allow_tf32:
            stack.enter_context(_tf32())
        return stack

    def _dense_forward(self, x_in: Tensor, e_in: Tensor, node_mask: Tensor, f_node: Tensor, f_pair: Tensor,
                       f_glob: Tensor) -> Tensor:
        B, N, _ = x_in.shape
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
        # pooling and head in the input precision even under autocast: energy differences feed the
        # Metropolis-Hastings acceptance, where bf16 rounding would be visible
        with torch.autocast(x.device.type, enabled=False):
            x, e, y = x.to(dtype), e.to(dtype), y.to(dtype)
            sx = (self.out_x(x) * nm[..., None]).sum(1)
            se = (self.out_e(e) * pmask[..., None].to(dtype)).sum((1, 2))
            h = torch.cat([sx / self.max_nodes, se / self.max_nodes, self.out_y(y)], -1)
            return self.head(h).squeeze(-1)

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

