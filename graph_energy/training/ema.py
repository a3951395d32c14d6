"""Exponential moving average of model weights."""

from __future__ import annotations

import copy

import torch

__all__ = ["EMA"]


class EMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * param`` for every floating tensor of a model.

    The effective decay warms up as ``min(decay, (1 + n) / (10 + n))`` over the first updates so that
    early averages are not dominated by the random initialisation. Buffers are copied as they are.

    Args:
        model: the module to track (its current weights initialise the average).
        decay: target decay in ``[0, 1)``.
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.num_updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.num_updates += 1
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        src = model.state_dict()
        for k, v in self.module.state_dict().items():
            s = src[k]
            if v.dtype.is_floating_point:
                v.mul_(d).add_(s.detach(), alpha=1 - d)
            else:
                v.copy_(s)
