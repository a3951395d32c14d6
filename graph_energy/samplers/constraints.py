"""Exact (non-differentiable) constraint terms for the target energy.

They enter the MH acceptance only (see :mod:`graph_energy.samplers.target`), which keeps the mixing
chain exact for ``E_θ + Σ w_k P_k``; greedy transport and the energy switch see the model alone.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph
from graph_energy.samplers.target import EnergyTerm

__all__ = ["ConnectedTerm", "num_components", "ValenceTerm", "valence_excess"]


def num_components(graph: DenseGraph) -> Tensor:
    """``(B,)`` long number of connected components of each graph (bonded = edge class > 0)."""
    lab = graph.to_labels()
    mask = lab.node_mask
    B, N = mask.shape
    if N == 0:
        return torch.zeros(B, dtype=torch.long, device=mask.device)
    eye = torch.eye(N, dtype=torch.bool, device=mask.device)
    reach = ((lab.e > 0) | eye) & mask[:, :, None] & mask[:, None, :]
    for _ in range(max(1, (N - 1).bit_length())):  # repeated squaring: paths of length up to 2^k
        r = reach.float()
        reach = (r @ r) > 0
    earlier = torch.tril(torch.ones(N, N, dtype=torch.bool, device=mask.device), -1)
    # a node is the root of its component when no real node of lower index reaches it
    root = mask & ~(reach & earlier[None] & mask[:, None, :]).any(2)
    return root.long().sum(1)


class ConnectedTerm(EnergyTerm):
    """``weight · (components − 1)``: favours single molecules (e.g. a linker joining two fragments).

    Args:
        weight: energy per extra component (default 4, several times the model's typical MH energy
            differences, so a disconnected state is rarely accepted).
    """

    differentiable = False

    def __init__(self, weight: float = 4.0, name: str = "connected") -> None:
        self.weight, self.name = float(weight), name

    def term(self, graph: DenseGraph) -> Tensor:
        return (num_components(graph) - 1).clamp_min(0).to(graph.x.dtype)


def valence_excess(graph: DenseGraph, bond_orders: Tensor, max_valences: Tensor) -> Tensor:
    """``(B,)`` sum over atoms of ``max(0, Σ bond orders − max valence of the atom's class)``.

    Args:
        bond_orders: ``(de,)`` order of each bond class (0 for "none").
        max_valences: ``(dx,)`` largest allowed valence of each atom class (formal charge included).
    """
    lab = graph.to_labels()
    orders = bond_orders.to(graph.x.device, torch.float64)[lab.e]  # (B, N, N)
    load = (orders * graph.pair_mask).sum(2)
    cap = max_valences.to(graph.x.device, torch.float64)[lab.x]
    return ((load - cap).clamp_min(0) * lab.node_mask).sum(1)


class ValenceTerm(EnergyTerm):
    """``weight · Σ_atoms max(0, valence − max valence)``: penalises atoms with more bonds than their
    class allows (RDKit's valence rule; the spec's ``max_valences``).

    Args:
        spec: the model's :class:`~graph_energy.data.MolecularSpec` (bond orders, maximum valences).
        weight: energy per unit of excess valence.
    """

    differentiable = False

    def __init__(self, spec, weight: float = 4.0, name: str = "valence") -> None:
        self.weight, self.name = float(weight), name
        self.bond_orders = torch.tensor(spec.bond_orders, dtype=torch.float64)
        self.max_valences = torch.tensor(spec.max_valences, dtype=torch.float64)

    def term(self, graph: DenseGraph) -> Tensor:
        return valence_excess(graph, self.bond_orders, self.max_valences).to(graph.x.dtype)
