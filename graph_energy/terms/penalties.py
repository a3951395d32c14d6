"""How a property value becomes an energy: target, window, bound, hard constraint.

A :class:`Penalty` maps property values ``p (B,)`` to non-negative energies ``(B,)`` with torch
operations, so the same shapes serve exact (RDKit) terms and differentiable learned predictors:

* :class:`Target`  ``((p − t) / scale)²``;
* :class:`Window`  flat bottom: ``0`` on ``[lo, hi]``, ``step + ((lo − p) / scale)²`` below,
  ``step + ((p − hi) / scale)²`` above (``step`` a jump at the edge, default 0);
* :class:`Bound`   a window open on one side (only ``lo`` or only ``hi``);
* :class:`Hard`    ``0`` on ``[lo, hi]``, ``+inf`` outside: an MH chain never accepts a state outside
  (``exp(−β·inf) = 0``), and a chain that starts outside moves to the first allowed state it proposes.

How :func:`~graph_energy.samplers.mh_accept` treats infinite energies (``β_mh > 0``): a move to a
forbidden state has ``log α = −inf`` and is always rejected; a move out of one has ``log α = +inf``
and is always accepted; a move between two forbidden states has ``inf − inf = NaN`` and is rejected
(the chain waits in its state until it proposes an allowed one). At ``β_mh = 0`` every infinite
difference gives ``0·inf = NaN``: rejected, so a forbidden chain cannot leave at zero inverse temperature.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from graph_energy.config import Configurable

__all__ = ["Penalty", "Target", "Window", "Bound", "Hard"]


def _number(name: str, value, cls: str) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{cls}: {name} must be a number or null, got {value!r}") from None
    if math.isnan(out):
        raise ValueError(f"{cls}: {name} must not be NaN")
    return out


def _scale(value, cls: str) -> float:
    s = _number("scale", value, cls)
    if s is None or not (s > 0 and math.isfinite(s)):
        raise ValueError(f"{cls}: scale must be a positive finite number, got {value!r}")
    return s


class Penalty(Configurable):
    """Energy of a property value; ``__call__(p (B,)) -> (B,)`` (same dtype and device as ``p``).

    Attributes:
        lo, hi: the interval of values with zero energy (``None`` = unbounded); a :class:`Target`
            has ``lo = hi = value``.
    """

    lo: float | None = None
    hi: float | None = None
    kind: str = "penalty"

    def __call__(self, p: Tensor) -> Tensor:
        raise NotImplementedError

    def inside(self, p: Tensor) -> Tensor:
        """``(B,)`` bool: ``p`` lies in ``[lo, hi]`` (the zero-energy set)."""
        ok = torch.ones_like(p, dtype=torch.bool)
        if self.lo is not None:
            ok = ok & (p >= self.lo)
        if self.hi is not None:
            ok = ok & (p <= self.hi)
        return ok

    def describe(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"[{lo}, {hi}]"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in getattr(self, "_config_args", {}).items())
        return f"{type(self).__name__}({args})"


def _outside(p: Tensor, lo: float | None, hi: float | None) -> Tensor:
    """Distance of ``p`` from ``[lo, hi]`` (0 inside)."""
    zero = torch.zeros_like(p)
    d = zero
    if lo is not None:
        d = d + torch.clamp(lo - p, min=0.0)
    if hi is not None:
        d = d + torch.clamp(p - hi, min=0.0)
    return d


class Target(Penalty):
    """Quadratic pull towards a value: ``((p − value) / scale)²``."""

    kind = "target"

    def __init__(self, value: float, scale: float = 1.0) -> None:
        v = _number("value", value, "Target")
        if v is None or not math.isfinite(v):
            raise ValueError(f"Target: value must be a finite number, got {value!r}")
        self.value, self.scale = v, _scale(scale, "Target")
        self.lo = self.hi = v

    def __call__(self, p: Tensor) -> Tensor:
        return ((p - self.value) / self.scale) ** 2

    def describe(self) -> str:
        return f"= {self.value:g} (scale {self.scale:g})"


class Window(Penalty):
    """Flat-bottom window: 0 on ``[lo, hi]``, ``step + (distance / scale)²`` outside.

    A quadratic alone makes a state just outside the window almost as likely as one inside (a
    property that moves in small increments leaks across the edge at any temperature); ``step > 0``
    puts a jump of that height at the edge, so that at ``β_mh · weight · step ≫ 1`` the target's
    mass outside the window is negligible while the quadratic still pulls chains in from afar.

    Args:
        lo, hi: the window (one of them may be ``None``: unbounded on that side); ``lo <= hi``.
        scale: distance at which the quadratic part reaches 1.
        step: energy (before the term's weight) of any value outside the window, added to the quadratic.
    """

    kind = "window"

    def __init__(self, lo: float | None = None, hi: float | None = None, scale: float = 1.0,
                 step: float = 0.0) -> None:
        name = type(self).__name__
        self.lo, self.hi = _number("lo", lo, name), _number("hi", hi, name)
        self.scale = _scale(scale, name)
        st = _number("step", step, name)
        if st is None or not (st >= 0 and math.isfinite(st)):
            raise ValueError(f"{name}: step must be a finite number >= 0, got {step!r} (use hard: true for an "
                             "infinite wall)")
        self.step = st
        self._check()

    def _check(self) -> None:
        name = type(self).__name__
        if self.lo is None and self.hi is None:
            raise ValueError(f"{name} needs lo, hi or both (e.g. lo=2 hi=3)")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"{name}: lo={self.lo:g} > hi={self.hi:g}; swap them")

    def __call__(self, p: Tensor) -> Tensor:
        d = _outside(p, self.lo, self.hi)
        out = (d / self.scale) ** 2
        if self.step:
            out = out + torch.where(self.inside(p), 0.0, self.step).to(out.dtype)
        return out


class Bound(Window):
    """One-sided window: ``lo`` only (``p >= lo``) or ``hi`` only (``p <= hi``)."""

    kind = "bound"

    def _check(self) -> None:
        if (self.lo is None) == (self.hi is None):
            raise ValueError(f"Bound takes exactly one of lo / hi (got lo={self.lo}, hi={self.hi}); "
                             "use Window for both sides")


class Hard(Penalty):
    """Hard constraint: 0 on ``[lo, hi]``, ``+inf`` outside (one side may be ``None``)."""

    kind = "hard"

    def __init__(self, lo: float | None = None, hi: float | None = None) -> None:
        self.lo, self.hi = _number("lo", lo, "Hard"), _number("hi", hi, "Hard")
        if self.lo is None and self.hi is None:
            raise ValueError("Hard needs lo, hi or both (e.g. hi=0 forbids a substructure)")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"Hard: lo={self.lo:g} > hi={self.hi:g}; swap them")

    def __call__(self, p: Tensor) -> Tensor:
        inf = torch.full_like(p, float("inf"))
        # p * 0 keeps a learned predictor's output in the autograd graph (zero gradient), NaN stays NaN
        return torch.where(self.inside(p), p * 0.0, inf)
