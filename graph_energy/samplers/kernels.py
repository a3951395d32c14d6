"""The kernel protocol: what one phase of the sampler does to its chains in one step.

A kernel step has two stages so that the driver can evaluate the candidates of *all* phases in one
batched energy+gradient call:

1. :meth:`Kernel.propose` returns a :class:`Candidate` for the active chains (labels, which of them
   changed and need an evaluation, which have *arrived* at propose time, and whatever the kernel
   wants back in stage 2);
2. the driver evaluates the changed chains of every phase together;
3. :meth:`Kernel.accept` decides, from the evaluation at the candidate, which chains move
   (a :class:`KernelStep`).

Kernels are pure: per-chain state they carry between steps (e.g. an adaptive edit count) comes in
as :attr:`ChainView.data` and goes out as :attr:`KernelStep.state`; randomness only comes from the
``generator`` argument. :meth:`Kernel.step` chains the two stages around ``target.evaluate`` for
direct use outside the driver.

Frozen coordinates (scaffolds, inpainting) come in as :attr:`ChainView.frozen`. A kernel that
respects them sets ``supports_frozen = True``: it never changes a frozen coordinate and, if it has an
acceptance test, computes it on the free coordinates only (the library kernels read their moves from
:func:`~graph_energy.samplers.moves.coordinate_deltas`, which leaves frozen coordinates out). The
driver refuses frozen chains for other kernels and checks every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from graph_energy.config import Configurable
from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.samplers.frozen import FrozenMask
from graph_energy.samplers.moves import graph_of
from graph_energy.samplers.target import TargetEval

__all__ = ["ChainView", "Candidate", "KernelStep", "Kernel", "Proposal", "evaluate_changed", "select_labels",
           "index_labels", "ConfigRepr"]


class ConfigRepr:
    """``ClassName(arg=value, ...)`` from the recorded constructor arguments of a :class:`Configurable`."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in getattr(self, "_config_args", {}).items())
        return f"{type(self).__name__}({args})"


def select_labels(mask: Tensor, a: GraphLabels, b: GraphLabels) -> GraphLabels:
    """Per chain ``a`` where ``mask (B,)`` else ``b`` (same node masks)."""
    return GraphLabels(torch.where(mask[:, None], a.x, b.x), torch.where(mask[:, None, None], a.e, b.e),
                       b.node_mask)


def index_labels(labels: GraphLabels, idx: Tensor) -> GraphLabels:
    """The chains ``idx`` (long ``(K,)``) of a label batch."""
    return GraphLabels(labels.x[idx], labels.e[idx], labels.node_mask[idx])


@dataclass
class ChainView:
    """What a kernel sees of the ``B`` chains of a batch (inactive ones included).

    Attributes:
        graph: current graphs (one-hot dense batch).
        labels: the same graphs as integer labels ``x (B,N)``, ``e (B,N,N)``.
        eval: target energy and gradient at ``graph``.
        steps: ``(B,)`` long, steps each chain has taken in this kernel's phase.
        data: the kernel's own per-chain state (``name -> (B, ...)`` tensors from :meth:`Kernel.init_state`).
        frozen: coordinates the kernel must not change (``None``: all are free).
    """

    graph: DenseGraph
    labels: GraphLabels
    eval: TargetEval
    steps: Tensor
    data: dict[str, Tensor] = field(default_factory=dict)
    frozen: FrozenMask | None = None

    @classmethod
    def start(cls, graph: DenseGraph, ev: TargetEval, frozen: FrozenMask | None = None) -> ChainView:
        """A view of fresh chains (no steps taken, no kernel state yet)."""
        steps = torch.zeros(graph.batch_size, dtype=torch.long, device=graph.x.device)
        return cls(graph, graph.to_labels(), ev, steps, frozen=frozen)

    def advance(self, step: KernelStep, active: Tensor | None = None) -> ChainView:
        """The view after ``step`` (from :meth:`Kernel.step`, which records the evaluation at the candidate)."""
        if step.eval is None:
            raise ValueError("this KernelStep carries no evaluation at its candidate; use the one Kernel.step returns")
        take = step.accepted
        labels = select_labels(take, step.candidate.labels, self.labels)
        idx = take.nonzero().view(-1)
        ev = self.eval.put(idx, step.eval.index(idx)) if idx.numel() else self.eval
        active = torch.ones_like(take) if active is None else active
        return ChainView(graph_of(labels, self.graph), labels, ev, self.steps + active.long(), dict(step.state),
                         self.frozen)


@dataclass
class Candidate:
    """Stage 1 of a kernel step.

    Attributes:
        labels: candidate labels for all ``B`` chains (the current ones where nothing is proposed).
        changed: ``(B,)`` bool, active chains whose candidate differs from the current state (only these
            are evaluated).
        arrived: ``(B,)`` bool, the kernel has nothing left to do for the chain (e.g. greedy transport
            found no improving edit); the phase's switch may move it on within the same driver step.
        info: whatever :meth:`Kernel.accept` needs back (``(B, ...)`` tensors, e.g. ``log q(x'|x)``).
    """

    labels: GraphLabels
    changed: Tensor
    arrived: Tensor
    info: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class KernelStep:
    """Stage 2 of a kernel step.

    Attributes:
        candidate: the :class:`Candidate` the step decided on.
        accepted: ``(B,)`` bool, active chains that move to their candidate.
        log_alpha: ``(B,)`` float64 log acceptance ratio where the kernel has one (``None`` otherwise).
        counters: ``name -> (B,)`` long increments for the run's per-chain counters (e.g. ``accepted``,
            ``noops``, ``edits``).
        state: the kernel's per-chain state after the step (see :attr:`ChainView.data`).
        eval: evaluation at the candidate (set by :meth:`Kernel.step`; the driver keeps its own).
    """

    candidate: Candidate
    accepted: Tensor
    log_alpha: Tensor | None = None
    counters: dict[str, Tensor] = field(default_factory=dict)
    state: dict[str, Tensor] = field(default_factory=dict)
    eval: TargetEval | None = None


def evaluate_changed(target, like: DenseGraph, labels: GraphLabels, changed: Tensor, time: Tensor | None = None
                     ) -> tuple[Tensor, TargetEval | None]:
    """One batched evaluation of the ``changed (B,)`` chains of ``labels``.

    ``time (B,)``: the candidates' times for a time-dependent target (a flow model), passed on as
    ``target.evaluate(graph, time=...)``; kernels give it as ``Candidate.info["time"]``.
    Returns the chain indices ``idx (K,)`` and the evaluation of those ``K`` graphs (``None`` if ``K = 0``).
    """
    idx = changed.nonzero().view(-1)
    if not idx.numel():
        return idx, None
    graph = graph_of(index_labels(labels, idx), like)
    return idx, target.evaluate(graph) if time is None else target.evaluate(graph, time=time[idx])


class Kernel(ConfigRepr, Configurable):
    """One phase's transition rule (see the module docstring for the two-stage protocol).

    Subclasses implement :meth:`propose` and :meth:`accept`, and :meth:`init_state` if they carry
    per-chain state. A new kernel is a subclass plus a YAML entry naming it by ``_target_``.

    ``supports_frozen``: the kernel respects :attr:`ChainView.frozen` (see the module docstring).
    """

    supports_frozen: bool = False

    def init_state(self, state: ChainView) -> dict[str, Tensor]:
        """Per-chain state at the start of a run (``name -> (B, ...)`` tensors); none by default."""
        return {}

    def propose(self, state: ChainView, active: Tensor, *, generator: torch.Generator | None) -> Candidate:
        """Candidates for the ``active (B,)`` chains; inactive chains keep their labels and are not ``changed``."""
        raise NotImplementedError

    def accept(self, state: ChainView, candidate: Candidate, cand_eval: TargetEval, active: Tensor, *,
               generator: torch.Generator | None) -> KernelStep:
        """Decide which active chains move, given ``cand_eval``: the evaluation at ``candidate.labels``
        for every chain (rows of unchanged chains equal ``state.eval``)."""
        raise NotImplementedError

    def step(self, state: ChainView, target, *, generator: torch.Generator | None = None,
             active: Tensor | None = None) -> KernelStep:
        """Propose, evaluate the changed chains with ``target.evaluate``, accept (all chains active by default)."""
        if active is None:
            active = torch.ones(state.graph.batch_size, dtype=torch.bool, device=state.graph.x.device)
        cand = self.propose(state, active, generator=generator)
        idx, sub = evaluate_changed(target, state.graph, cand.labels, cand.changed & active, cand.info.get("time"))
        cand_eval = state.eval.put(idx, sub) if sub is not None else state.eval
        return replace(self.accept(state, cand, cand_eval, active, generator=generator), eval=cand_eval)


class Proposal(ConfigRepr, Configurable):
    """A proposal distribution ``q(x'|x)`` over label batches, for Metropolis–Hastings kernels.

    ``ev`` is the evaluation at ``labels`` (gradient-informed proposals read ``ev.grad_x``/``ev.grad_e``).
    ``frozen`` coordinates must keep their class in every draw and be left out of both probabilities.
    """

    def propose(self, labels: GraphLabels, ev: TargetEval, generator: torch.Generator | None,
                active: Tensor | None = None, frozen: FrozenMask | None = None):
        """Draw ``x' ~ q(·|x)`` for the active chains; returns an object with ``labels``,
        ``log_q_forward (B,)`` and ``noop (B,)`` (``x' = x``; true for inactive chains)."""
        raise NotImplementedError

    def log_prob(self, labels: GraphLabels, ev: TargetEval, target: GraphLabels,
                 frozen: FrozenMask | None = None) -> Tensor:
        """``log q(target | labels)`` ``(B,)`` over the free coordinates."""
        raise NotImplementedError
