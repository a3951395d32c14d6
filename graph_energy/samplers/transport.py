"""Transport kernel: gradient-guided greedy descent on the linearised energy (METHOD.md §3.1).

Each step is a deterministic pure function of the current labels and the gradient at them: every
chain applies its ``k`` most negative single edits ``Δ_d(c) < 0`` on distinct coordinates (``k = 1``
is the reference protocol). A chain without an improving edit has *arrived*. No randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from graph_energy.data.dense import GraphLabels
from graph_energy.samplers.kernels import Candidate, ChainView, Kernel, KernelStep
from graph_energy.samplers.moves import Deltas, coordinate_deltas, mirror_upper
from graph_energy.samplers.target import TargetEval

__all__ = ["GreedyTransport", "TransportMove", "greedy_transport_step"]


@dataclass
class TransportMove:
    """Result of one transport step.

    Attributes:
        labels: the edited labels ``x (B,N)``, ``e (B,N,N)``.
        num_edits: ``(B,)`` long, edits applied per chain (0 for inactive or arrived chains).
        predicted_change: ``(B,)`` sum of the applied ``Δ`` (first-order energy change, ≤ 0).
        arrived: ``(B,)`` bool, no improving edit exists at the input state.
    """

    labels: GraphLabels
    num_edits: Tensor
    predicted_change: Tensor
    arrived: Tensor


def _best_per_coordinate(deltas: Deltas) -> tuple[Tensor, Tensor]:
    """Best class and its ``Δ`` per coordinate, flattened to ``(B, N + N·N)``; ``+inf`` off-coordinate."""
    B, N = deltas.node_mask.shape
    inf = torch.tensor(float("inf"), dtype=deltas.node.dtype, device=deltas.node.device)
    node_val, node_cls = deltas.node.min(-1)
    edge_val, edge_cls = deltas.edge.min(-1)
    node_val = torch.where(deltas.node_mask, node_val, inf)
    edge_val = torch.where(deltas.edge_mask, edge_val, inf)
    return (torch.cat([node_val, edge_val.reshape(B, N * N)], 1),
            torch.cat([node_cls, edge_cls.reshape(B, N * N)], 1))


def greedy_transport_step(labels: GraphLabels, deltas: Deltas, edits_per_step: int | Tensor = 1,
                          active: Tensor | None = None) -> TransportMove:
    """Apply each active chain's ``edits_per_step`` best improving single edits.

    Args:
        labels: current labels (batch ``B``, ``N`` nodes).
        deltas: :func:`~graph_energy.samplers.moves.coordinate_deltas` at ``labels``.
        edits_per_step: ``k``, the largest number of edits (on distinct coordinates) per chain; an int
            or a ``(B,)`` long tensor (one ``k`` per chain).
        active: ``(B,)`` bool; inactive chains are returned unchanged.
    """
    B, N = labels.x.shape
    val, cls = _best_per_coordinate(deltas)
    arrived = ~(val < 0).any(1) if val.shape[1] else torch.ones(B, dtype=torch.bool, device=val.device)
    k_chain = torch.as_tensor(edits_per_step, device=val.device).long().expand(B)
    k = min(int(k_chain.max()) if B else 0, val.shape[1])
    if k == 0:
        zero = torch.zeros(B, dtype=torch.long, device=labels.x.device)
        return TransportMove(labels, zero, zero.to(val.dtype), arrived)
    top_val, top_idx = torch.topk(val, k, dim=1, largest=False, sorted=True)
    apply = (top_val < 0) & (torch.arange(k, device=val.device)[None, :] < k_chain[:, None])
    if active is not None:
        apply = apply & active[:, None]
    chosen = torch.zeros_like(val, dtype=torch.bool).scatter(1, top_idx, apply)
    x_new = torch.where(chosen[:, :N], cls[:, :N], labels.x)
    e_up = torch.where(chosen[:, N:].view(B, N, N), cls[:, N:].view(B, N, N), labels.e)
    e_new = mirror_upper(e_up)
    change = torch.where(apply, top_val, torch.zeros_like(top_val)).sum(1)
    return TransportMove(GraphLabels(x_new, e_new, labels.node_mask), apply.sum(1), change, arrived)


class GreedyTransport(Kernel):
    """The transport kernel: each active chain applies its ``k`` best improving single edits (deterministic).

    A chain with no improving edit has *arrived* (:attr:`Candidate.arrived`). The step cap is the
    phase's ``max_steps``.

    Args:
        edits_per_step: ``k`` single edits per step (distinct coordinates); 1 = reference.
        adaptive: halve a chain's ``k`` (down to 1) whenever its step raised the energy. Several
            simultaneous first-order edits can overshoot on a sharply curved energy; a single edit
            is the reference behaviour. No effect when ``k = 1``.

    Per-chain state: ``edits_per_step`` ``(B,)`` long, the chain's current ``k``.
    """

    supports_frozen = True  # edits come from the coordinate set of Deltas, which excludes frozen coordinates

    def __init__(self, edits_per_step: int = 1, adaptive: bool = True) -> None:
        if int(edits_per_step) < 1:
            raise ValueError(f"edits_per_step must be >= 1, got {edits_per_step}")
        self.edits_per_step = int(edits_per_step)
        self.adaptive = bool(adaptive)

    def init_state(self, state: ChainView) -> dict[str, Tensor]:
        return {"edits_per_step": torch.full_like(state.steps, self.edits_per_step)}

    def propose(self, state: ChainView, active: Tensor, *, generator: torch.Generator | None = None) -> Candidate:
        ev = state.eval
        deltas = coordinate_deltas(state.labels, ev.grad_x, ev.grad_e, state.frozen)
        move = greedy_transport_step(state.labels, deltas, state.data["edits_per_step"], active)
        return Candidate(move.labels, move.num_edits > 0, move.arrived, {"num_edits": move.num_edits})

    def accept(self, state: ChainView, candidate: Candidate, cand_eval: TargetEval, active: Tensor, *,
               generator: torch.Generator | None = None) -> KernelStep:
        """Every active chain takes its edits; ``k`` is halved where the energy rose."""
        changed = candidate.changed & active
        delta = torch.where(changed, cand_eval.energy.double() - state.eval.energy.double(),
                            torch.zeros((), dtype=torch.float64, device=changed.device))
        edits = self.adapt(state.data["edits_per_step"], active & (delta > 0))
        num_edits = torch.where(active, candidate.info["num_edits"], torch.zeros_like(candidate.info["num_edits"]))
        return KernelStep(candidate, active.clone(), counters={"edits": num_edits},
                          state={"edits_per_step": edits})

    def adapt(self, edits: Tensor, rose: Tensor) -> Tensor:
        """Per-chain ``k`` after a step: halved (at least 1) where the energy rose, if ``adaptive``."""
        if not self.adaptive:
            return edits
        return torch.where(rose, (edits // 2).clamp_min(1), edits)
