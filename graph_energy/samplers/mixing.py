"""Mixing kernel: Metropolis–Hastings with the discrete-Langevin factorised proposal (METHOD.md §3.3).

Proposal ``q(x'|x)``: every coordinate ``d`` (node, or pair ``i<j`` mirrored) independently draws its
new class from ``softmax(ℓ_d)`` with ``ℓ_d(a) = 0`` for its current class ``a`` and
``ℓ_d(c) = −β_prop·Δ_d(c) − λ_type`` otherwise. Acceptance:

    log U < −β_mh·(E(x') − E(x)) + log q(x|x') − log q(x'|x),

with the reverse proposal built from the gradient at ``x'``, which makes the chain exact for
``π ∝ exp(−β_mh·E)``. A proposal with ``x' = x`` has ratio exactly 1 (same energy, the same proposal
term on both sides), so it is accepted without an energy evaluation and counted as a no-op.

Frozen coordinates (:class:`~graph_energy.samplers.frozen.FrozenMask`, from ``ChainView.frozen``) are no
coordinates of the proposal: they keep their class and enter neither ``log q(x'|x)`` nor
``log q(x|x')``, so the chain is exact for ``π`` conditioned on them; classes the mask disallows
for a pair have proposal probability zero (exact for ``π`` restricted to the allowed states).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from graph_energy.data.dense import GraphLabels
from graph_energy.models.energy_eval import EnergyEval
from graph_energy.samplers.frozen import FrozenMask
from graph_energy.samplers.kernels import Candidate, ChainView, Kernel, KernelStep, Proposal, index_labels
from graph_energy.samplers.moves import coordinate_deltas, mirror_upper
from graph_energy.samplers.schedules import Schedule, as_schedule
from graph_energy.samplers.target import TargetEval

__all__ = ["DiscreteLangevinMH", "LangevinProposal", "ProposalLogits", "MHProposal", "proposal_logits",
           "proposal_log_prob", "propose", "mh_accept"]


@dataclass
class ProposalLogits:
    """Per-coordinate log-probabilities of the factorised proposal.

    Attributes:
        node: ``(B, N, dx)`` log-softmax over node classes.
        edge: ``(B, N, N, de)`` log-softmax over edge classes (used on ``i<j`` only).
        node_mask: ``(B, N)`` node coordinates; edge_mask: ``(B, N, N)`` edge coordinates (real pairs
            ``i<j``); frozen coordinates are in neither.
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
                    lambda_x: float, lambda_e: float, frozen: FrozenMask | None = None) -> ProposalLogits:
    """Log-probabilities of ``q(·|x)`` per coordinate from the gradient at ``x`` (shapes as in
    :class:`ProposalLogits`); ``frozen`` coordinates are left out of the coordinate masks."""
    d = coordinate_deltas(labels, grad_x, grad_e, frozen)
    ln = -beta_prop * d.node - lambda_x
    le = -beta_prop * d.edge - lambda_e
    if frozen is not None and frozen.edge_classes is not None:  # Δ = +inf: probability 0 (also when β_prop = 0)
        le = le.masked_fill(~frozen.edge_classes, float("-inf"))
    ln = ln.scatter(-1, labels.x[..., None], 0.0)
    le = le.scatter(-1, labels.e[..., None], 0.0)
    return ProposalLogits(ln.log_softmax(-1), le.log_softmax(-1), d.node_mask, d.edge_mask)


def proposal_log_prob(logits: ProposalLogits, target: GraphLabels) -> Tensor:
    """``log q(target|x)`` ``(B,)``: sum over the coordinates (real, free nodes and pairs ``i<j``)."""
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

    Only the coordinates of ``logits`` move: padding nodes, pairs touching padding and the diagonal
    always keep class 0, frozen coordinates keep theirs. The noise is drawn for every entry, so the
    random stream does not depend on the masks.
    """
    node_mask, edge_mask = logits.node_mask, logits.edge_mask
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


class LangevinProposal(Proposal):
    """The discrete-Langevin factorised proposal (module docstring) from the gradient at ``x``.

    Args:
        beta_prop: proposal sharpness ``β_prop`` (reference 2.36).
        lambda_x, lambda_e: per-coordinate change penalties for nodes / edges (reference 4.00 / 4.83).
    """

    def __init__(self, beta_prop: float = 2.36, lambda_x: float = 4.0, lambda_e: float = 4.83) -> None:
        if float(beta_prop) < 0:
            raise ValueError(f"beta_prop must be >= 0, got {beta_prop}")
        self.beta_prop, self.lambda_x, self.lambda_e = float(beta_prop), float(lambda_x), float(lambda_e)

    def logits(self, labels: GraphLabels, ev: EnergyEval, frozen: FrozenMask | None = None) -> ProposalLogits:
        return proposal_logits(labels, ev.grad_x, ev.grad_e, self.beta_prop, self.lambda_x, self.lambda_e, frozen)

    def propose(self, labels: GraphLabels, ev: EnergyEval, generator: torch.Generator | None,
                active: Tensor | None = None, frozen: FrozenMask | None = None) -> MHProposal:
        return propose(labels, self.logits(labels, ev, frozen), generator, active)

    def log_prob(self, labels: GraphLabels, ev: EnergyEval, target: GraphLabels,
                 frozen: FrozenMask | None = None) -> Tensor:
        return proposal_log_prob(self.logits(labels, ev, frozen), target)


class DiscreteLangevinMH(Kernel):
    """Metropolis–Hastings with a :class:`~graph_energy.samplers.kernels.Proposal` (default: the
    discrete-Langevin one) targeting ``π ∝ exp(−β_mh·E)``.

    Args:
        proposal: ``q(x'|x)`` (default :class:`LangevinProposal` with the reference knobs).
        beta_mh: target inverse temperature: a :class:`Schedule` over the chain's step count in its
            phase, a number (constant) or ``[start, end, steps]`` (linear).

    A proposal with ``x' = x`` is accepted without an energy evaluation (a no-op). Counters:
    ``accepted`` (no-ops included), ``noops`` and ``proposals`` (MH steps).
    """

    supports_frozen = True  # the proposal is over the free coordinates (see the module docstring)

    def __init__(self, proposal: Proposal | None = None, beta_mh: Schedule | float | list = 1.0) -> None:
        self.proposal = proposal if proposal is not None else LangevinProposal()
        if not isinstance(self.proposal, Proposal):
            raise TypeError(f"proposal must be a Proposal (e.g. LangevinProposal), got {type(proposal).__name__}")
        self.beta_mh = as_schedule(beta_mh)
        self._config_args.update(proposal=self.proposal, beta_mh=self.beta_mh)  # written back in full form

    def propose(self, state: ChainView, active: Tensor, *, generator: torch.Generator | None) -> Candidate:
        """``x' ~ q(·|x)``; the noise is drawn for the whole batch (inactive chains masked), so a chain's
        draws do not depend on which other chains are active."""
        prop = self.proposal.propose(state.labels, state.eval, generator, active, frozen=state.frozen)
        changed = active & ~prop.noop
        arrived = torch.zeros_like(active)
        return Candidate(prop.labels, changed, arrived, {"log_q_forward": prop.log_q_forward, "noop": prop.noop})

    def accept(self, state: ChainView, candidate: Candidate, cand_eval: TargetEval, active: Tensor, *,
               generator: torch.Generator | None) -> KernelStep:
        """The MH test (one uniform per chain of the batch) at ``β_mh(steps in phase)``."""
        B, dev = active.shape[0], active.device
        log_q_rev = torch.zeros(B, dtype=torch.float64, device=dev)
        delta = torch.zeros_like(log_q_rev)
        j = (candidate.changed & active).nonzero().view(-1)
        if j.numel():
            cand = index_labels(candidate.labels, j)
            frozen = state.frozen.index(j) if state.frozen is not None else None
            log_q_rev[j] = self.proposal.log_prob(cand, cand_eval.index(j), index_labels(state.labels, j),
                                                  frozen=frozen).double()
            delta[j] = cand_eval.energy[j].double() - state.eval.energy[j].double()
        noop = candidate.info["noop"]
        accepted, log_alpha = mh_accept(delta, candidate.info["log_q_forward"], log_q_rev, self.beta_mh(state.steps),
                                        noop, generator)
        accepted = accepted & active
        counters = {"accepted": accepted.long(), "noops": (active & noop).long(), "proposals": active.long()}
        return KernelStep(candidate, accepted, log_alpha, counters, dict(state.data))
