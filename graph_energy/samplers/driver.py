"""The phased driver: one loop that owns transport, the switch, mixing, progress and callbacks.

Every driver step makes one batched energy+gradient evaluation shared by all chains, whatever
their phase; chains whose state does not change (arrived, no-op proposal, finished) are left out of
it. The evaluation at an accepted state is reused by the next step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.samplers.mixing import DiscreteLangevinMH, mh_accept, proposal_log_prob, propose
from graph_energy.samplers.moves import coordinate_deltas, graph_of
from graph_energy.samplers.state import ChainState, Phase, SampleResult
from graph_energy.samplers.switch import EnergySwitch, SwitchReason
from graph_energy.samplers.target import EnergyTerm, TargetEnergy
from graph_energy.samplers.transport import GreedyTransport

__all__ = ["Sampler", "sample"]

log = logging.getLogger(__name__)

Callback = Callable[[ChainState], None]


class Sampler:
    """Transport kernel × switch × mixing kernel (each swappable, built from YAML by ``_target_``).

    Args:
        transport: the greedy transport kernel and its step cap.
        mixing: the MH kernel, its ``β_mh`` schedule and number of steps.
        switch: when transport chains start mixing (default: energy switch + arrival).
    """

    def __init__(self, transport: GreedyTransport | None = None, mixing: DiscreteLangevinMH | None = None,
                 switch: EnergySwitch | None = None) -> None:
        self.transport = transport or GreedyTransport()
        self.mixing = mixing or DiscreteLangevinMH()
        self.switch = switch or EnergySwitch()

    @property
    def max_steps(self) -> int:
        """Upper bound on driver steps."""
        return self.transport.max_steps + self.mixing.num_steps

    def __repr__(self) -> str:
        return f"Sampler({self.transport!r}, {self.switch!r}, {self.mixing!r})"


def _after_transport(state: ChainState, sampler: Sampler, moved: Tensor | None = None) -> None:
    """Apply the energy and cap criteria to the chains still in transport."""
    nxt = Phase.MIXING if sampler.mixing.num_steps > 0 else Phase.DONE
    in_t = state.phase == Phase.TRANSPORT
    hit = in_t & (state.eval.model_energy.double() <= state.threshold)
    state.switch(hit, SwitchReason.THRESHOLD, nxt)
    cap = (state.phase == Phase.TRANSPORT) & (state.transport_steps >= sampler.transport.max_steps)
    state.switch(cap, SwitchReason.CAP, nxt)


def _select(labels: GraphLabels, mask: Tensor, a: GraphLabels, b: GraphLabels) -> GraphLabels:
    return GraphLabels(torch.where(mask[:, None], a.x, b.x), torch.where(mask[:, None, None], a.e, b.e),
                       labels.node_mask)


def driver_step(state: ChainState, target: TargetEnergy, sampler: Sampler,
                generator: torch.Generator | None) -> ChainState:
    """Advance every unfinished chain by one step of its phase (mutates and returns ``state``)."""
    labels = state.graph.to_labels()
    ev = state.eval
    in_t = state.phase == Phase.TRANSPORT
    move = sampler.transport.step(labels, coordinate_deltas(labels, ev.grad_x, ev.grad_e), active=in_t,
                                  edits=state.edits)
    if sampler.switch.on_arrival:
        state.switch(in_t & move.arrived, SwitchReason.ARRIVED,
                     Phase.MIXING if sampler.mixing.num_steps > 0 else Phase.DONE)
    in_t = state.phase == Phase.TRANSPORT
    in_m = state.phase == Phase.MIXING

    fwd = sampler.mixing.logits(labels, ev.grad_x, ev.grad_e)
    prop = propose(labels, fwd, generator, active=in_m)
    cand = _select(labels, in_t, move.labels, _select(labels, in_m, prop.labels, labels))
    changed = (in_t & (move.num_edits > 0)) | (in_m & ~prop.noop)
    idx = changed.nonzero().view(-1)

    new_ev = None
    log_q_rev = torch.zeros(labels.x.shape[0], dtype=torch.float64, device=labels.x.device)
    delta = torch.zeros_like(log_q_rev)
    if idx.numel():
        sub = graph_of(GraphLabels(cand.x[idx], cand.e[idx], cand.node_mask[idx]), state.graph)
        new_ev = target.evaluate(sub)
        state.evaluations[idx] += 1
        sub_lab = GraphLabels(cand.x[idx], cand.e[idx], cand.node_mask[idx])
        rev = sampler.mixing.logits(sub_lab, new_ev.grad_x, new_ev.grad_e)
        old = GraphLabels(labels.x[idx], labels.e[idx], labels.node_mask[idx])
        log_q_rev[idx] = proposal_log_prob(rev, old).double()
        delta[idx] = new_ev.energy.double() - ev.energy[idx].double()
        state.edits = sampler.transport.adapt(state.edits, in_t & (delta > 0))

    beta = sampler.mixing.beta_mh(state.mixing_steps)
    accepted, _ = mh_accept(delta, prop.log_q_forward, log_q_rev, beta, prop.noop, generator)
    accepted = accepted & in_m
    take = in_t | accepted
    if new_ev is not None:
        keep = take[idx]
        if keep.any():
            state.eval = state.eval.put(idx[keep], new_ev.index(keep))
    new_labels = _select(labels, take, cand, labels)
    state.graph = graph_of(new_labels, state.graph)

    state.transport_steps = state.transport_steps + in_t.long()
    state.mixing_steps = state.mixing_steps + in_m.long()
    state.accepted = state.accepted + accepted.long()
    state.noops = state.noops + (in_m & prop.noop).long()
    _after_transport(state, sampler)
    done = (state.phase == Phase.MIXING) & (state.mixing_steps >= sampler.mixing.num_steps)
    state.phase = torch.where(done, torch.full_like(state.phase, Phase.DONE), state.phase)
    state.step += 1
    return state


def _as_target(model, extra_terms: Sequence[EnergyTerm]) -> TargetEnergy:
    if isinstance(model, TargetEnergy):
        if extra_terms:
            return TargetEnergy(model.model, [*model.terms, *extra_terms])
        return model
    return TargetEnergy(model, extra_terms)


@torch.no_grad()
def sample(model, spec=None, num_nodes: Tensor | None = None, sampler: Sampler | None = None,
           generator: torch.Generator | None = None, extra_terms: Sequence[EnergyTerm] = (),
           callbacks: Sequence[Callback] = (), progress: bool = False, noise=None,
           initial: DenseGraph | None = None, dtype: torch.dtype = torch.float32, decode: bool = True) -> SampleResult:
    """Run transport, the switch and mixing on a batch of chains until every chain is done.

    Args:
        model: energy model ``model(graph) -> (B,)`` or a :class:`TargetEnergy`.
        spec: :class:`~graph_energy.data.spec.MolecularSpec` (class counts and decoding); may be ``None``
            when ``noise`` or ``initial`` fixes the class counts (no SMILES are decoded then).
        num_nodes: ``(B,)`` long node count per chain (ignored when ``initial`` is given).
        sampler: the kernels (default :class:`Sampler()`).
        generator: the only source of randomness (same seed → same samples).
        extra_terms: extra :class:`EnergyTerm` objects added to the target.
        callbacks: called as ``cb(state)`` after the initial evaluation and after every step.
        progress: show a tqdm bar over driver steps.
        noise: object with ``sample(num_nodes, generator) -> DenseGraph`` (default: uniform classes).
        initial: start from these graphs instead of noise (e.g. data-started chains).
        dtype: float dtype of the one-hot graphs.
        decode: decode SMILES when ``spec`` is given.

    Returns:
        :class:`SampleResult` with the final graphs and per-chain bookkeeping.
    """
    t0 = time.perf_counter()
    sampler = sampler or Sampler()
    target = _as_target(model, extra_terms)
    if initial is None:
        if num_nodes is None:
            raise ValueError("pass num_nodes (a (B,) tensor of node counts) or initial graphs")
        num_nodes = torch.as_tensor(num_nodes).long().view(-1)
        if noise is None:
            if spec is None:
                raise ValueError("pass a spec (for the class counts) or a noise distribution")
            from graph_energy.noise import UniformNoise
            noise = UniformNoise(spec.num_atom_types, spec.num_bond_types)
        initial = noise.sample(num_nodes, generator=generator)
    graph = DenseGraph(initial.x.to(dtype), initial.e.to(dtype), initial.node_mask)
    state = ChainState.start(graph, target.evaluate(graph), sampler.switch.thresholds(graph.num_nodes),
                             sampler.transport.edits_per_step)
    _after_transport(state, sampler)
    for cb in callbacks:
        cb(state)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=sampler.max_steps, desc="sampling", leave=False)
    while (state.phase != Phase.DONE).any():
        if state.step >= sampler.max_steps + sampler.transport.max_steps + 1:  # pragma: no cover
            raise RuntimeError("sampler did not terminate; this is a bug")
        driver_step(state, target, sampler, generator)
        for cb in callbacks:
            cb(state)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    smiles: list = [None] * graph.batch_size
    if decode and spec is not None:
        from graph_energy.chem.convert import dense_to_smiles
        smiles = dense_to_smiles(state.graph, spec)
    return SampleResult(state.graph, smiles, state.eval.energy.detach(), state.eval.model_energy.detach(),
                        state.graph.num_nodes, state.transport_steps, state.mixing_steps, state.switch_step,
                        state.switch_reason, state.accepted, state.noops, state.evaluations,
                        wall_time=time.perf_counter() - t0)
