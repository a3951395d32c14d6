"""Elementwise ops with cheap higher-order derivatives.

The transport loss differentiates the *input gradient* of the energy with respect to the parameters,
so every activation is differentiated twice. PyTorch's generic double backward of SiLU expands into
about fifteen elementwise passes over its input; on the ``N²`` edge feed-forward that dominated a
training step on CPU. :class:`SiLU` computes exactly the same function and first derivative (the
fused ``silu_backward`` kernel) and a closed-form second derivative with in-place arithmetic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

__all__ = ["SiLU", "silu"]


class _SiLUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return F.silu(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return _SiLUGradFn.apply(grad, x)


class _SiLUGradFn(torch.autograd.Function):
    """``(g, x) ↦ g · silu'(x)`` with ``silu'(x) = σ(x)(1 + x(1 − σ(x)))``."""

    @staticmethod
    def forward(ctx, grad: Tensor, x: Tensor) -> Tensor:
        ctx.save_for_backward(grad, x)
        return torch.ops.aten.silu_backward(grad, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, gg: Tensor) -> tuple[Tensor | None, Tensor | None]:
        grad, x = ctx.saved_tensors
        d_grad = torch.ops.aten.silu_backward(gg, x) if ctx.needs_input_grad[0] else None
        d_x = None
        if ctx.needs_input_grad[1]:
            # silu''(x) = σ(1 − σ)(2 + x(1 − 2σ))
            s = torch.sigmoid(x)
            one_minus_s = 1.0 - s
            t = s.mul(-2.0).add_(1.0).mul_(x).add_(2.0)
            d_x = t.mul_(s).mul_(one_minus_s).mul_(grad).mul_(gg)
        return d_grad, d_x


def silu(x: Tensor) -> Tensor:
    """``x·σ(x)`` with a closed-form double backward (third order is not supported)."""
    return _SiLUFn.apply(x)


class SiLU(nn.Module):
    """Module form of :func:`silu`."""

    def forward(self, x: Tensor) -> Tensor:
        return silu(x)

