"""Learning-rate schedule (warm-up then constant or cosine) with a temporary back-off on failures.

The rate is a pure function of the step and a small back-off state, so it survives resumption and is
never overwritten cumulatively.
"""

from __future__ import annotations

import logging
import math

__all__ = ["WarmupSchedule", "TrainingDivergedError"]

log = logging.getLogger(__name__)


class TrainingDivergedError(RuntimeError):
    """Raised when too many consecutive steps produce a non-finite loss or gradient."""


class WarmupSchedule:
    """Multiplier of the base learning rate.

    ``factor(step) = warmup(step) * shape(step) * backoff_scale`` with a linear warm-up from
    ``1/warmup_steps`` to 1 over ``warmup_steps``, then 1 (``kind="constant"``) or a cosine decay to
    ``min_lr_ratio`` at ``total_steps`` (``kind="cosine"``).

    Back-off: a failed (non-finite) step multiplies ``backoff_scale`` by ``backoff_factor``;
    ``backoff_recover_steps`` successful steps in a row undo one back-off; more than
    ``max_consecutive_failures`` failures in a row raise :class:`TrainingDivergedError`.
    """

    def __init__(self, warmup_steps: int = 0, kind: str = "constant", total_steps: int | None = None,
                 min_lr_ratio: float = 0.0, backoff_factor: float = 0.5, backoff_recover_steps: int = 100,
                 max_consecutive_failures: int = 5) -> None:
        if kind not in ("constant", "cosine"):
            raise ValueError(f"schedule kind must be 'constant' or 'cosine', got {kind!r}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        if not 0 < backoff_factor < 1:
            raise ValueError(f"backoff_factor must be in (0, 1), got {backoff_factor}")
        self.warmup_steps = int(warmup_steps)
        self.kind = kind
        self.total_steps = None if total_steps is None else int(total_steps)
        self.min_lr_ratio = float(min_lr_ratio)
        self.backoff_factor = float(backoff_factor)
        self.backoff_recover_steps = int(backoff_recover_steps)
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.backoff_scale = 1.0
        self.consecutive_failures = 0
        self.total_failures = 0
        self.good_steps = 0

    def factor(self, step: int) -> float:
        """Learning-rate multiplier for the update that follows ``step`` completed steps."""
        w = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        shape = 1.0
        if self.kind == "cosine":
            if self.total_steps is None:
                raise ValueError("a cosine schedule needs total_steps")
            span = max(1, self.total_steps - self.warmup_steps)
            prog = min(1.0, max(0.0, (step - self.warmup_steps) / span))
            shape = self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * prog))
        return w * shape * self.backoff_scale

    def record(self, ok: bool, step: int) -> None:
        """Report the outcome of the update at ``step``; may raise :class:`TrainingDivergedError`."""
        if ok:
            self.consecutive_failures = 0
            if self.backoff_scale < 1.0:
                self.good_steps += 1
                if self.good_steps >= self.backoff_recover_steps:
                    self.backoff_scale = min(1.0, self.backoff_scale / self.backoff_factor)
                    self.good_steps = 0
            return
        self.consecutive_failures += 1
        self.total_failures += 1
        self.good_steps = 0
        self.backoff_scale *= self.backoff_factor
        log.warning("non-finite loss or gradient at step %d: update skipped, learning rate scaled by %.3g "
                    "(%d consecutive failures)", step, self.backoff_scale, self.consecutive_failures)
        if self.consecutive_failures > self.max_consecutive_failures:
            raise TrainingDivergedError(
                f"training diverged: {self.consecutive_failures} consecutive steps up to step {step} had a "
                f"non-finite loss or gradient even after backing the learning rate off to "
                f"{self.backoff_scale:.3g}x. Lower optim.optimizer.lr (or train.grad_clip).")

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("warmup_steps", "kind", "total_steps", "min_lr_ratio",
                                              "backoff_factor", "backoff_recover_steps",
                                              "max_consecutive_failures", "backoff_scale",
                                              "consecutive_failures", "total_failures", "good_steps")}

    def load_state_dict(self, state: dict) -> None:
        # Only the back-off state is restored; the shape comes from the (possibly edited) config.
        for k in ("backoff_scale", "consecutive_failures", "total_failures", "good_steps"):
            setattr(self, k, state[k])
