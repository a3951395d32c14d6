"""The contrastive loss of GEM phase 2 (METHOD.md §2, "Phase 2 — contrastive fine-tuning").

    L_CL = Σ_b w_b (E(x⁺_b) − E(x⁻_b)) / Σ_b w_b,        R = mean_b(E(x⁺_b)² + E(x⁻_b)²),

with ``x⁺`` data graphs and ``x⁻`` negatives drawn by the sampler itself. Negatives that decode to an
invalid or disconnected molecule get weight ``invalid_weight`` (10 in the method), the others 1.
The loss returned is ``λ_cl·L_CL + α·R``; ``λ_cl`` is passed per call (it is ramped by the training
objective), ``α`` is fixed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graph_energy.losses.base import LossOutput

__all__ = ["ContrastiveLoss", "negative_weights"]


def negative_weights(good: Tensor, invalid_weight: float = 10.0) -> Tensor:
    """Per-negative weights ``(B,)``: 1 where ``good`` (decodes to a valid, connected molecule), else
    ``invalid_weight``.

    Args:
        good: ``(B,)`` bool.
        invalid_weight: weight of a bad negative (``>= 0``).
    """
    if float(invalid_weight) < 0:
        raise ValueError(f"invalid_weight must be >= 0, got {invalid_weight}")
    one = torch.ones(good.shape, dtype=torch.float32, device=good.device)
    return torch.where(good.bool(), one, one * float(invalid_weight))


class ContrastiveLoss:
    """Weighted data-minus-negative energy difference plus an energy-magnitude regulariser.

    Args:
        invalid_weight: weight of a negative that is invalid or disconnected (used by
            :func:`negative_weights`; the loss itself takes the weights as given).
        reg_alpha: ``α`` of ``α·mean(E⁺² + E⁻²)`` (0 = the reference, no regulariser).
    """

    def __init__(self, invalid_weight: float = 10.0, reg_alpha: float = 0.0) -> None:
        if float(invalid_weight) < 0:
            raise ValueError(f"invalid_weight must be >= 0, got {invalid_weight}")
        if float(reg_alpha) < 0:
            raise ValueError(f"reg_alpha must be >= 0, got {reg_alpha}")
        self.invalid_weight = float(invalid_weight)
        self.reg_alpha = float(reg_alpha)

    def weights(self, good: Tensor) -> Tensor:
        """``(B,)`` weights of negatives from their ``(B,)`` bool valid-and-connected flags."""
        return negative_weights(good, self.invalid_weight)

    def __call__(self, energy_pos: Tensor, energy_neg: Tensor, weights: Tensor | None = None,
                 lambda_cl: float = 1.0) -> LossOutput:
        """``λ_cl·L_CL + α·R`` for paired energies.

        Args:
            energy_pos: ``(B,)`` energies of the data graphs (differentiable).
            energy_neg: ``(B,)`` energies of the negatives (differentiable).
            weights: ``(B,)`` non-negative weights ``w_b`` (default: all 1).
            lambda_cl: multiplier of ``L_CL``.

        Returns:
            :class:`LossOutput` with terms ``loss_cl`` (``L_CL``, unscaled) and ``energy_reg`` (``R``,
            unscaled) and metrics ``energy_pos``, ``energy_neg``, ``energy_gap`` (mean ``E⁻ − E⁺``;
            positive when data sit lower than negatives), ``energy_gap_weighted`` (``−L_CL``), ``lambda_cl``.
        """
        if energy_pos.dim() != 1 or energy_pos.shape != energy_neg.shape:
            raise ValueError(f"energy_pos and energy_neg must both have shape (B,), got {tuple(energy_pos.shape)} "
                             f"and {tuple(energy_neg.shape)}; draw one negative per data graph")
        if energy_pos.numel() == 0:
            raise ValueError("empty batch: the contrastive loss needs at least one (data, negative) pair")
        if weights is None:
            weights = torch.ones_like(energy_pos)
        w = weights.to(energy_pos.dtype).detach()
        if w.shape != energy_pos.shape or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(f"weights must be (B,)=({energy_pos.numel()},), non-negative and not all zero")
        diff = energy_pos - energy_neg
        loss_cl = (w * diff).sum() / w.sum()
        reg = (energy_pos.pow(2) + energy_neg.pow(2)).mean()
        loss = float(lambda_cl) * loss_cl + self.reg_alpha * reg
        with torch.no_grad():
            metrics = {
                "energy_pos": float(energy_pos.mean()),
                "energy_neg": float(energy_neg.mean()),
                "energy_gap": float((energy_neg - energy_pos).mean()),
                "energy_gap_weighted": float(-loss_cl),
                "lambda_cl": float(lambda_cl),
            }
        return LossOutput(loss=loss, terms={"loss_cl": loss_cl.detach(), "energy_reg": reg.detach()},
                          metrics=metrics)
