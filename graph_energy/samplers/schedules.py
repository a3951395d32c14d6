"""Inverse-temperature schedules, indexed by each chain's own step count in its phase."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from graph_energy.config import Configurable

__all__ = ["Schedule", "ConstantSchedule", "LinearSchedule", "GeometricSchedule", "as_schedule"]


class Schedule(Configurable):
    """Maps per-chain step indices ``t (B,)`` (long, from 0) to values ``(B,)`` (float64)."""

    def __call__(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def final(self) -> float:
        """The value the schedule settles at (after any annealing)."""
        return float(self(torch.tensor([10**9]))[0])


class ConstantSchedule(Schedule):
    def __init__(self, value: float) -> None:
        if not float(value) > 0:
            raise ValueError(f"an inverse temperature must be > 0, got {value}")
        self.value = float(value)

    def __call__(self, t: Tensor) -> Tensor:
        return torch.full(t.shape, self.value, dtype=torch.float64, device=t.device)

    def __repr__(self) -> str:
        return f"ConstantSchedule({self.value})"


def _check_range(start: float, end: float, num_steps: int) -> None:
    if not (float(start) > 0 and float(end) > 0):
        raise ValueError(f"inverse temperatures must be > 0, got start={start}, end={end}")
    if int(num_steps) < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")


def _fraction(t: Tensor, num_steps: int) -> Tensor:
    return (t.double() / max(num_steps, 1)).clamp(0, 1) if num_steps else torch.ones_like(t.double())


class LinearSchedule(Schedule):
    """``start → end`` linearly over ``num_steps`` steps, then constant at ``end`` (reference: 0.78 → 17.6
    over 500 steps)."""

    def __init__(self, start: float, end: float, num_steps: int) -> None:
        _check_range(start, end, num_steps)
        self.start, self.end, self.num_steps = float(start), float(end), int(num_steps)

    def __call__(self, t: Tensor) -> Tensor:
        return self.start + (self.end - self.start) * _fraction(t, self.num_steps)

    def __repr__(self) -> str:
        return f"LinearSchedule({self.start} -> {self.end} over {self.num_steps})"


class GeometricSchedule(Schedule):
    """``start → end`` geometrically over ``num_steps`` steps, then constant."""

    def __init__(self, start: float, end: float, num_steps: int) -> None:
        _check_range(start, end, num_steps)
        self.start, self.end, self.num_steps = float(start), float(end), int(num_steps)

    def __call__(self, t: Tensor) -> Tensor:
        return self.start * (self.end / self.start) ** _fraction(t, self.num_steps)

    def __repr__(self) -> str:
        return f"GeometricSchedule({self.start} -> {self.end} over {self.num_steps})"


def as_schedule(value) -> Schedule:
    """A schedule from a :class:`Schedule`, a number (constant) or ``[start, end, steps]`` (linear).

    The short forms are what calibration grids and hand-written YAML use for ``beta_mh``.
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, bool):
        raise TypeError(f"a schedule must be a number, [start, end, steps] or a Schedule, got {value!r}")
    if isinstance(value, (int, float)):
        return ConstantSchedule(float(value))
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3:
        return LinearSchedule(float(value[0]), float(value[1]), int(value[2]))
    raise TypeError(f"a schedule must be a number (constant), [start, end, steps] (linear) or a Schedule "
                    f"config, got {value!r}")
