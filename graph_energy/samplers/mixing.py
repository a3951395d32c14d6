"""Mixing kernel: discrete-Langevin Metropolis–Hastings with a factorised proposal (METHOD.md §3.3).

Proposal ``q(x'|x)``: every coordinate ``d`` (node, or pair ``i<j`` mirrored) independently draws its
new class from ``softmax(ℓ_d)`` with ``ℓ_d(a) = 0`` for its current class ``a`` and
``ℓ_d(c) = −β_prop·Δ_d(c) − λ_type`` otherwise. Acceptance:

    log U < −β_mh·(E(x') − E(x)) + log q(x|x') − log q(x'|x),

with the reverse proposal built from the gradient at ``x'``, which makes the chain exact for
``π ∝ exp(−β_mh·E)``. A proposal with ``x' = x`` has ratio exactly 1 (same energy, the same proposal
term on both sides), so it is accepted without an energy evaluation and counted as a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from graph_energy.data.dense import GraphLabels
from graph_energy.samplers.moves import coordinate_deltas, mirror_upper, upper_pair_mask
from graph_energy.samplers.schedules import ConstantSchedule, Schedule

__all__ = ["DiscreteLangevinMH", "ProposalLogits", "MHProposal", "proposal_logits", "proposal_log_prob",
           "propose", "mh_accept"]


@dataclass
class ProposalLogits:
    """Per-coordinate log-probabilities of the factorised proposal.

    Attributes:
        node: ``(B, N, dx)`` log-softmax over node classes.
        edge: ``(B, N, N, de)`` log-softmax over edge classes (used on ``i<j`` only).
        node_mask: ``(B, N)``; edge_mask: ``(B, N, N)`` real pairs ``i<j``.
    """

    node: Tensor
    edge: Tensor
    node_mask: Tensor
    edge_mask: Tensor


@dataclass
class MHProposal:
    """A proposed move: ``labels`` at ``x'``, ``log_q_forward = log q(x'|x)`` ``(B,)`` and ``noop`` ``(B,)``
    (``x' = x``)."""

    labels: GraphLabels
    log_q_forward: Tensor
    noop: Tensor


def proposal_logits(labels: GraphLabels, grad_x: Tensor, grad_e: Tensor, beta_prop: float,
                    lambda_x: float, lambda_e: float) -> ProposalLogits:
    """Log-probabilities of ``q(·|x)`` per coordinate from the gradient at ``x`` (shapes as in
    :class:`ProposalLogits`)."""
    d = coordinate_deltas(labels, grad_x, grad_e)
    ln = -beta_prop * d.node - lambda_x
    le = -beta_prop * d.edge - lambda_e
    ln = ln.scatter(-1, labels.x[..., None], 0.0)
    le = le.scatter(-1, labels.e[..., None], 0.0)
    return ProposalLogits(ln.log_softmax(-1), le.log_softmax(-1), d.node_mask, d.edge_mask)


def proposal_log_prob(logits: ProposalLogits, target: GraphLabels) -> Tensor:
    """``log q(target|x)`` ``(B,)``: sum over real nodes and real pairs ``i<j``."""
    lx = logits.node.gather(-1, target.x[..., None]).squeeze(-1)
    le = logits.edge.gather(-1, target.e[..., None]).squeeze(-1)
    zero = torch.zeros((), dtype=lx.dtype, device=lx.device)
    return (torch.where(logits.node_mask, lx, zero).sum(1)
            + torch.where(logits.edge_mask, le, zero).sum((1, 2)))


def _gumbel_argmax(logp: Tensor, generator: torch.Generator | None) -> Tensor:
    u = torch.rand(logp.shape, generator=generator, dtype=torch.float64, device=logp.device)
    g = -torch.log(-torch.log(u.clamp(1e-300, 1.0 - 1e-16)))
    return (logp.double() + g).argmax(-1)


def propose(labels: GraphLabels, logits: ProposalLogits, generator: torch.Generator | None,
            active: Tensor | None = None) -> MHProposal:
    """Draw ``x' ~ q(·|x)`` for every chain (inactive chains propose ``x' = x``).

    Padding nodes, pairs touching padding and the diagonal always keep class 0.
    """
    node_mask = labels.node_mask
    edge_mask = upper_pair_mask(node_mask)
    if active is not None:
        node_mask = node_mask & active[:, None]
        edge_mask = edge_mask & active[:, None, None]
    x_new = torch.where(node_mask, _gumbel_argmax(logits.node, generator), labels.x)
    e_up = torch.where(edge_mask, _gumbel_argmax(logits.edge, generator), labels.e)
    new = GraphLabels(x_new, mirror_upper(e_up), labels.node_mask)
    noop = (new.x == labels.x).all(1) & (new.e == labels.e).all(2).all(1)
    return MHProposal(new, proposal_log_prob(logits, new), noop)


def mh_accept(delta_energy: Tensor, log_q_forward: Tensor, log_q_reverse: Tensor, beta_mh: Tensor,
              noop: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """MH test for every chain; no-op proposals are accepted (their ratio is exactly 1).

    Args:
        delta_energy: ``(B,)`` ``E(x') − E(x)`` (ignored where ``noop``).
        log_q_forward, log_q_reverse: ``(B,)`` ``log q(x'|x)``, ``log q(x|x')``.
        beta_mh: ``(B,)`` inverse temperature per chain.
        noop: ``(B,)`` bool.

    Returns:
        ``accepted (B,)`` bool and ``log_alpha (B,)`` (float64, 0 for no-ops).
    """
    log_alpha = (-beta_mh.double() * delta_energy.double() + log_q_reverse.double()
                 - log_q_forward.double())
    log_alpha = torch.where(noop, torch.zeros_like(log_alpha), log_alpha)
    u = torch.rand(log_alpha.shape, generator=generator, dtype=torch.float64, device=log_alpha.device)
    accepted = noop | (torch.log(u) < log_alpha)
    return accepted, log_alpha


class DiscreteLangevinMH:
    """The mixing phase's kernel: proposal knobs, ``β_mh`` schedule and number of steps.

    Args:
        num_steps: MH steps per chain after it switches (0 = no mixing).
        beta_prop: proposal sharpness ``β_prop`` (reference 2.36).
        lambda_x, lambda_e: per-coordinate change penalties for nodes / edges (reference 4.00 / 4.83).
        beta_mh: target inverse temperature, a number or a :class:`Schedule` over the chain's mixing step.
    """

    def __init__(self, num_steps: int = 1000, beta_prop: float = 2.36, lambda_x: float = 4.0,
                 lambda_e: float = 4.83, beta_mh: Schedule | float = 1.0) -> None:
        if int(num_steps) < 0:
            raise ValueError(f"num_steps must be >= 0, got {num_steps}")
        if float(beta_prop) < 0:
            raise ValueError(f"beta_prop must be >= 0, got {beta_prop}")
        self.num_steps = int(num_steps)
        self.beta_prop, self.lambda_x, self.lambda_e = float(beta_prop), float(lambda_x), float(lambda_e)
        self.beta_mh = beta_mh if isinstance(beta_mh, Schedule) else ConstantSchedule(float(beta_mh))

    def logits(self, labels: GraphLabels, grad_x: Tensor, grad_e: Tensor) -> ProposalLogits:
        return proposal_logits(labels, grad_x, grad_e, self.beta_prop, self.lambda_x, self.lambda_e)

    def __repr__(self) -> str:
        return (f"DiscreteLangevinMH(num_steps={self.num_steps}, beta_prop={self.beta_prop}, "
                f"lambda_x={self.lambda_x}, lambda_e={self.lambda_e}, beta_mh={self.beta_mh!r})")
