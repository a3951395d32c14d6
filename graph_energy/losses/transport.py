"""The transport-aligned matching loss of GEM phase 1 (METHOD.md §2, step 5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from graph_energy.losses.base import LossOutput
from graph_energy.models.energy_eval import energy_and_grad
from graph_energy.paths.mixture import PathSample

__all__ = ["TransportLoss", "masked_graph_mean"]


def masked_graph_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean over graphs of the per-graph mean of ``values`` over masked entries.

    Args:
        values: ``(B, ..., C)`` element-wise losses.
        mask: ``(B, ...)`` bool, which coordinates count.
    Returns:
        scalar; graphs without any masked coordinate are left out (zero if none has one).
    """
    m = mask.to(values.dtype)
    per_coord = values.mean(-1) * m
    dims = tuple(range(1, m.dim()))
    count = m.sum(dims)
    per_graph = per_coord.sum(dims) / count.clamp_min(1)
    has = count > 0
    if not has.any():
        return values.sum() * 0.0
    return per_graph[has].mean()


class TransportLoss:
    """Huber regression of ``v = -clamp(∇E_θ(x_t), -c, c)`` on ``u = onehot(x_1) - onehot(x_0)``.

    ``L = mean_graphs huber_δ(v_x - u_x) + mean_graphs huber_δ(v_e - u_e)``: per graph, the
    element-wise Huber loss is averaged over the classes and the real nodes (resp. real pairs
    ``i<j``), then averaged over graphs. The edge gradient is the symmetrised one of
    :func:`~graph_energy.models.energy_eval.energy_and_grad`, the same the sampler uses.

    Args:
        delta: Huber threshold ``δ``.
        grad_clamp: clamp ``c`` applied to the gradient before negation.
        edge_weight: weight of the edge term (1 in the method).
    """

    def __init__(self, delta: float = 1.0, grad_clamp: float = 10.0, edge_weight: float = 1.0) -> None:
        if delta <= 0 or grad_clamp <= 0:
            raise ValueError(f"delta and grad_clamp must be > 0, got {delta}, {grad_clamp}")
        self.delta = float(delta)
        self.grad_clamp = float(grad_clamp)
        self.edge_weight = float(edge_weight)

    def __call__(self, model, path: PathSample) -> LossOutput:
        ev = energy_and_grad(model, path.x_t, create_graph=True)
        c = self.grad_clamp
        v_x = -ev.grad_x.clamp(-c, c)
        v_e = -ev.grad_e.clamp(-c, c)
        hx = F.huber_loss(v_x, path.u_x.to(v_x.dtype), reduction="none", delta=self.delta)
        he = F.huber_loss(v_e, path.u_e.to(v_e.dtype), reduction="none", delta=self.delta)
        upper = torch.triu(path.x_t.pair_mask, diagonal=1)
        loss_x = masked_graph_mean(hx, path.x_t.node_mask)
        loss_e = masked_graph_mean(he, upper)
        loss = loss_x + self.edge_weight * loss_e
        with torch.no_grad():
            metrics = {
                "energy_mean": float(ev.energy.mean()),
                "energy_std": float(ev.energy.std()) if ev.energy.numel() > 1 else 0.0,
                "grad_abs_x": float(ev.grad_x.abs().sum() / path.x_t.node_mask.sum().clamp_min(1)
                                    / ev.grad_x.shape[-1]),
            }
        return LossOutput(loss=loss, terms={"loss_x": loss_x.detach(), "loss_e": loss_e.detach()},
                          metrics=metrics)
