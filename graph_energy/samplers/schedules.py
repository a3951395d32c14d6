"""Inverse-temperature schedules of the mixing phase, indexed by each chain's own mixing step."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["Schedule", "ConstantSchedule", "LinearSchedule", "GeometricSchedule"]


class Schedule:
    """Maps per-chain step indices ``t (B,)`` (long, from 0) to values ``(B,)`` (float64)."""

    def __call__(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"_target_": f"{type(self).__module__}.{type(self).__name__}", **vars(self)}


class ConstantSchedule(Schedule):
    def __init__(self, value: float) -> None:
        if not float(value) > 0:
            raise ValueError(f"an inverse temperature must be > 0, got {value}")
        self.value = float(value)

    def __call__(self, t: Tensor) -> Tensor:
        return torch.full(t.shape, self.value, dtype=torch.float64, device=t.device)

    def __repr__(self) -> str:
        return f"ConstantSchedule({self.value})"


class LinearSchedule(Schedule):
    """``start → end`` linearly over ``num_steps`` steps, then constant at ``end`` (reference: 0.78 → 17.6
    over 500 steps)."""

    def __init__(self, start: float, end: float, num_steps: int) -> None:
        if not (float(start) > 0 and float(end) > 0):
            raise ValueError(f"inverse temperatures must be > 0, got start={start}, end={end}")
        if int(num_steps) < 0:
            raise ValueError(f"num_steps must be >= 0, got {num_steps}")
        self.start, self.end, self.num_steps = float(start), float(end), int(num_steps)

    def __call__(self, t: Tensor) -> Tensor:
        frac = (t.double() / max(self.num_steps, 1)).clamp(0, 1) if self.num_steps else torch.ones_like(t.double())
        return self.start + (self.end - self.start) * frac

    def __repr__(self) -> str:
        return f"LinearSchedule({self.start} -> {self.end} over {self.num_steps})"


class GeometricSchedule(Schedule):
    """``start → end`` geometrically over ``num_steps`` steps, then constant."""

    def __init__(self, start: float, end: float, num_steps: int) -> None:
        if not (float(start) > 0 and float(end) > 0):
            raise ValueError(f"inverse temperatures must be > 0, got start={start}, end={end}")
        self.start, self.end, self.num_steps = float(start), float(end), int(num_steps)

    def __call__(self, t: Tensor) -> Tensor:
        frac = (t.double() / max(self.num_steps, 1)).clamp(0, 1) if self.num_steps else torch.ones_like(t.double())
        return self.start * (self.end / self.start) ** frac

    def __repr__(self) -> str:
        return f"GeometricSchedule({self.start} -> {self.end} over {self.num_steps})"
