"""Energy and its exact input gradient at a (one-hot) graph: the move oracle of training and sampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph

__all__ = ["EnergyModel", "EnergyEval", "energy_and_grad", "symmetrize_edge_grad"]


class EnergyModel(Protocol):
    """Anything mapping a :class:`DenseGraph` to per-graph energies ``(B,)``, differentiable in
    ``graph.x`` and ``graph.e``."""

    def __call__(self, graph: DenseGraph) -> Tensor: ...


@dataclass
class EnergyEval:
    """Energy and input gradients of a batch.

    Attributes:
        energy: ``(B,)``.
        grad_x: ``(B, N, dx)``, zero on padding nodes.
        grad_e: ``(B, N, N, de)``, symmetrised ``½(g_ij + g_ji)``, zero on the diagonal and padding.
    """

    energy: Tensor
    grad_x: Tensor
    grad_e: Tensor

    def detach(self) -> EnergyEval:
        return EnergyEval(self.energy.detach(), self.grad_x.detach(), self.grad_e.detach())

    def index(self, idx) -> EnergyEval:
        return EnergyEval(self.energy[idx], self.grad_x[idx], self.grad_e[idx])


def symmetrize_edge_grad(grad_e: Tensor, pair_mask: Tensor) -> Tensor:
    """``½(g_ij + g_ji)`` restricted to real off-diagonal pairs; ``grad_e (B,N,N,de)``, mask ``(B,N,N)``."""
    return 0.5 * (grad_e + grad_e.transpose(1, 2)) * pair_mask[..., None].to(grad_e.dtype)


def energy_and_grad(model: EnergyModel, graph: DenseGraph, create_graph: bool = False) -> EnergyEval:
    """Evaluate ``E_θ(graph)`` and ``∂E/∂x``, ``∂E/∂e`` at the given point.

    Works inside ``torch.no_grad()`` sampling code (gradient tracking is enabled locally). With
    ``create_graph=True`` the result stays differentiable in the model parameters (second-order
    autograd, used by the transport loss); otherwise everything returned is detached.
    """
    with torch.enable_grad():
        x = graph.x.detach().requires_grad_(True)
        e = graph.e.detach().requires_grad_(True)
        energy = model(DenseGraph(x, e, graph.node_mask))
        if energy.dim() != 1 or energy.shape[0] != graph.batch_size:
            raise ValueError(f"energy model must return shape (B,)=({graph.batch_size},), got {tuple(energy.shape)}")
        grad_x, grad_e = torch.autograd.grad(energy.sum(), (x, e), create_graph=create_graph)
    grad_x = grad_x * graph.node_mask[..., None].to(grad_x.dtype)
    grad_e = symmetrize_edge_grad(grad_e, graph.pair_mask)
    out = EnergyEval(energy, grad_x, grad_e)
    return out if create_graph else out.detach()
