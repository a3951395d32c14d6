"""The sampler's target: a model energy plus optional extra energy terms.

A chain samples ``π(x) ∝ exp(−β·E_target(x))`` with

    E_target(x) = E_θ(x) + Σ_k w_k · P_k(x).

Each extra term is an :class:`EnergyTerm`. A *differentiable* term (a learned property predictor,
another energy model for compositional generation) adds its input gradient to the gradient that
drives the transport edits and the MH proposal. A *non-differentiable* term (an RDKit property, a
substructure constraint) only enters the energy, hence the MH acceptance, which keeps the mixing
chain exact for the full target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph
from graph_energy.models.energy_eval import EnergyEval, EnergyModel, energy_and_grad

__all__ = ["EnergyTerm", "FunctionTerm", "ModelTerm", "TargetEnergy", "TargetEval"]


class EnergyTerm:
    """One additive term of the target energy.

    Subclasses implement :meth:`term` returning the unweighted value ``(B,)``; the target adds
    ``weight · term(graph)``.

    Attributes:
        name: key under which the term's weighted value is reported in :attr:`TargetEval.terms`.
        weight: multiplier ``w_k``.
        differentiable: whether ``term`` is differentiable in ``graph.x`` / ``graph.e`` (then its
            gradient shapes the proposals); otherwise it is evaluated under ``torch.no_grad()`` and
            only affects the energy (the MH acceptance).
    """

    name: str = "term"
    weight: float = 1.0
    differentiable: bool = False

    def term(self, graph: DenseGraph) -> Tensor:
        raise NotImplementedError

    def __call__(self, graph: DenseGraph) -> Tensor:
        """Weighted value ``weight · term(graph)``, shape ``(B,)``."""
        value = self.term(graph)
        if value.dim() != 1 or value.shape[0] != graph.batch_size:
            raise ValueError(f"energy term {self.name!r} must return shape ({graph.batch_size},), "
                             f"got {tuple(value.shape)}")
        return self.weight * value.to(graph.x.dtype)


class FunctionTerm(EnergyTerm):
    """Wrap a plain callable ``fn(graph) -> (B,)`` as an energy term."""

    def __init__(self, fn: Callable[[DenseGraph], Tensor], weight: float = 1.0,
                 differentiable: bool = False, name: str = "term") -> None:
        self.fn, self.weight, self.differentiable, self.name = fn, float(weight), bool(differentiable), name

    def term(self, graph: DenseGraph) -> Tensor:
        return self.fn(graph)


class ModelTerm(FunctionTerm):
    """Another energy model as a differentiable term (product of experts)."""

    def __init__(self, model: EnergyModel, weight: float = 1.0, name: str = "expert") -> None:
        super().__init__(model, weight=weight, differentiable=True, name=name)


@dataclass
class TargetEval(EnergyEval):
    """:class:`EnergyEval` of the full target plus its parts.

    Attributes:
        energy: ``(B,)`` full target energy (model + all weighted terms).
        grad_x, grad_e: gradient of the model plus the differentiable terms.
        model_energy: ``(B,)`` the model's own energy ``E_θ`` (what the energy switch compares).
        terms: name -> ``(B,)`` weighted value of every extra term.
    """

    model_energy: Tensor = None  # type: ignore[assignment]
    terms: dict[str, Tensor] = field(default_factory=dict)

    def detach(self) -> TargetEval:
        return TargetEval(self.energy.detach(), self.grad_x.detach(), self.grad_e.detach(),
                          self.model_energy.detach(), {k: v.detach() for k, v in self.terms.items()})

    def index(self, idx) -> TargetEval:
        return TargetEval(self.energy[idx], self.grad_x[idx], self.grad_e[idx], self.model_energy[idx],
                          {k: v[idx] for k, v in self.terms.items()})

    def put(self, idx: Tensor, other: TargetEval) -> TargetEval:
        """Copy with the rows ``idx`` (long ``(K,)``) replaced by ``other`` (batch ``K``)."""
        def upd(t: Tensor, s: Tensor) -> Tensor:
            t = t.clone()
            t[idx] = s.to(t.dtype)
            return t
        return TargetEval(upd(self.energy, other.energy), upd(self.grad_x, other.grad_x),
                          upd(self.grad_e, other.grad_e), upd(self.model_energy, other.model_energy),
                          {k: upd(v, other.terms[k]) for k, v in self.terms.items()})


class TargetEnergy:
    """``E_θ + Σ_k w_k P_k``: evaluates energy and the proposal gradient in one forward+backward.

    Args:
        model: the energy model, ``model(graph) -> (B,)``.
        terms: extra :class:`EnergyTerm` objects (names must be unique and not ``"model"``).
    """

    def __init__(self, model: EnergyModel, terms: Sequence[EnergyTerm] = ()) -> None:
        self.model = model
        self.terms = list(terms)
        names = [t.name for t in self.terms]
        if len(set(names)) != len(names) or "model" in names:
            raise ValueError(f"extra energy terms need unique names other than 'model', got {names}; "
                             "pass name=... when building the terms")
        for t in self.terms:
            if not isinstance(t, EnergyTerm):
                raise TypeError(f"extra terms must be EnergyTerm objects, got {type(t).__name__}; "
                                "wrap a callable with FunctionTerm(fn, weight, differentiable)")

    def evaluate(self, graph: DenseGraph) -> TargetEval:
        """Energy ``(B,)`` and gradients ``(B,N,dx)``, ``(B,N,N,de)`` of the target at ``graph``."""
        parts: dict[str, Tensor] = {}
        diff_terms = [t for t in self.terms if t.differentiable]

        def differentiable_energy(g: DenseGraph) -> Tensor:
            total = self.model(g)
            parts["model"] = total.detach()
            for t in diff_terms:
                v = t(g)
                parts[t.name] = v.detach()
                total = total + v
            return total

        ev = energy_and_grad(differentiable_energy, graph)
        energy = ev.energy
        with torch.no_grad():
            for t in self.terms:
                if not t.differentiable:
                    parts[t.name] = t(graph).detach()
                    energy = energy + parts[t.name]
        return TargetEval(energy, ev.grad_x, ev.grad_e, parts["model"],
                          {t.name: parts[t.name] for t in self.terms})

    @torch.no_grad()
    def energy(self, graph: DenseGraph) -> Tensor:
        """Target energy ``(B,)`` without gradients."""
        total = self.model(graph)
        for t in self.terms:
            total = total + t(graph)
        return total
