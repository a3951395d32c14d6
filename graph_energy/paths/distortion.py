"""Time distortions ``f: [0, 1] -> [0, 1]`` (increasing, ``f(0) = 0``, ``f(1) = 1``) for discrete flow matching.

A distortion reshapes time: training draws ``t = f(u)`` with ``u ~ U(0, 1)``, and a CTMC sampler with
``K`` steps visits ``t_k = f(k / K)``. Where ``f`` is flat, steps are small. The shapes are those
DeFoG (Qin et al., 2025) explores:

==========  ==============================  =====================================
name        ``f(t)``                        steps (sampling) are finest near
==========  ==============================  =====================================
identity    ``t``                           (uniform)
polyinc     ``t²``                          ``t = 0`` (noise)
polydec     ``2t − t²``                     ``t = 1`` (data)
cos         ``(1 − cos πt) / 2``            both ends
revcos      ``2t − (1 − cos πt) / 2``       the middle
==========  ==============================  =====================================
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["DISTORTIONS", "distort", "check_distortion"]

DISTORTIONS = ("identity", "polyinc", "polydec", "cos", "revcos")


def check_distortion(name: str) -> str:
    """``name`` if it is a known distortion, else a ``ValueError`` listing them."""
    if name not in DISTORTIONS:
        raise ValueError(f"unknown time distortion {name!r}; use one of {', '.join(DISTORTIONS)}")
    return name


def distort(t: Tensor | float, name: str = "identity") -> Tensor:
    """``f(t)`` for the distortion ``name`` (element-wise; ``t`` in ``[0, 1]``)."""
    check_distortion(name)
    t = torch.as_tensor(t)
    if not t.is_floating_point():
        t = t.double()
    if name == "identity":
        out = t.clone()
    elif name == "polyinc":
        out = t * t
    elif name == "polydec":
        out = 2 * t - t * t
    elif name == "cos":
        out = (1 - torch.cos(math.pi * t)) / 2
    else:
        out = 2 * t - (1 - torch.cos(math.pi * t)) / 2
    return out.clamp(0.0, 1.0)
