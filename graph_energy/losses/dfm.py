"""Cross-entropy of the clean-graph prediction: the discrete flow-matching loss (DeFoG / DiGress form)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from graph_energy.data.dense import DenseGraph
from graph_energy.losses.base import LossOutput
from graph_energy.models.heads import ClassLogits

__all__ = ["DFMLoss"]


def _masked_ce(logits: Tensor, target: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy over the ``mask`` entries (``logits (..., C)``, ``target (...)`` long) and the
    accuracy of the argmax there; zero (with a graph to the logits) when the mask is empty."""
    sel = mask.reshape(-1)
    if not bool(sel.any()):
        zero = logits.sum() * 0.0
        return zero, zero.detach()
    flat = logits.reshape(-1, logits.shape[-1])[sel]
    y = target.reshape(-1)[sel]
    ce = F.cross_entropy(flat.float(), y, reduction="mean")
    acc = (flat.argmax(-1) == y).float().mean()
    return ce, acc.detach()


class DFMLoss:
    """``L = CE_nodes + λ · CE_edges`` of class logits against the clean graph ``x_1``.

    ``CE_nodes`` is the mean over all real nodes of the batch of ``−log softmax(l_x)[x_1]``, ``CE_edges``
    the mean over all real unordered pairs ``i<j`` (class 0 = no bond is a class like the others).
    Both are means over coordinates of the whole batch, as in DiGress and DeFoG, which weight the
    edge term with ``λ = 5``.

    Args:
        edge_weight: ``λ``.
    """

    def __init__(self, edge_weight: float = 5.0) -> None:
        if not float(edge_weight) >= 0:
            raise ValueError(f"edge_weight must be >= 0, got {edge_weight}")
        self.edge_weight = float(edge_weight)

    def __call__(self, logits: ClassLogits, x_1: DenseGraph) -> LossOutput:
        if not isinstance(logits, ClassLogits):
            raise TypeError(f"the DFM loss needs class logits (a ClassHead network), got {type(logits).__name__}; "
                            "use model._target_=graph_energy.models.flow.FlowTransformer")
        labels = x_1.to_labels()
        upper = torch.triu(x_1.pair_mask, diagonal=1)
        loss_x, acc_x = _masked_ce(logits.x, labels.x, x_1.node_mask)
        loss_e, acc_e = _masked_ce(logits.e, labels.e, upper)
        loss = loss_x + self.edge_weight * loss_e
        return LossOutput(loss=loss, terms={"loss_x": loss_x.detach(), "loss_e": loss_e.detach()},
                          metrics={"acc_x": float(acc_x), "acc_e": float(acc_e)})
