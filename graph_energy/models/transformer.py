"""Building blocks of the node–edge–global graph transformer: the block and its masked pooling.

One block (pre-norm residual; ``hx``/``he``/``hy`` node/edge/global widths, ``H`` heads):

* attention: per-channel scores ``s_ijc = q_ic k_jc / √d_h · (1 + m_ijc) + a_ijc`` with ``(m, a)``
  a FiLM of the edge state (``q, k`` have the edge width ``he``); head logits sum the channels of a
  head; a masked softmax over keys aggregates values with a batched matmul (no 5-D broadcasts);
* edge update from the scores ``e += W s``, node update from the attention output, both FiLM-ed by
  the global vector; feed-forward blocks for nodes and edges;
* global update ``y += MLP([y, pool(x), pool(e)])`` with masked mean/soft-min/soft-max/std over real
  nodes and real off-diagonal pairs (:func:`masked_stats`), so padding never changes an output.

Pair tensors keep the edge width ``he`` (not ``hx``): the ``N²`` part of the network is where the
time goes, and this keeps the per-pair cost at ``O(he²)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from graph_energy.models.ops import SiLU

__all__ = ["GraphTransformerLayer", "masked_stats", "mlp"]


def mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    """``Linear → SiLU → Linear`` (the SiLU with a cheap double backward, :mod:`graph_energy.models.ops`)."""
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


class GraphTransformerLayer(nn.Module):
    """One node–edge–global block. Shapes: ``x (B,N,hx)``, ``e (B,N,N,he)``, ``y (B,hy)``."""

    def __init__(self, hx: int, he: int, hy: int, n_heads: int, ff_x: int, ff_e: int, ff_y: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.hx, self.he, self.n_heads = hx, he, n_heads
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
        self.ff_x, self.ff_e = mlp(hx, ff_x, hx), mlp(he, ff_e, he)
        self.ff_y = mlp(hy + 4 * hx + 4 * he, ff_y, hy)
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


def __getattr__(name: str):
    # configs of old may name the energy network by its former module
    if name == "GraphTransformerEnergy":
        from graph_energy.models.network import GraphTransformerEnergy

        return GraphTransformerEnergy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
