"""Common result type of all training objectives."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

__all__ = ["LossOutput"]


@dataclass
class LossOutput:
    """A scalar objective plus detached diagnostics.

    Attributes:
        loss: scalar tensor to backpropagate.
        terms: named scalar tensors making up ``loss`` (detached), e.g. ``{"loss_x": ..., "loss_e": ...}``.
        metrics: further float diagnostics (e.g. mean energy, gradient magnitude).
    """

    loss: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def scalars(self) -> dict[str, float]:
        """All numbers as plain floats: ``loss``, then the terms, then the metrics (for trackers)."""
        out = {"loss": float(self.loss.detach())}
        out.update({k: float(v) for k, v in self.terms.items()})
        out.update({k: float(v) for k, v in self.metrics.items()})
        return out
