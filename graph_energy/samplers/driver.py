"""The phased driver: one loop that owns every phase's kernel, the switches, progress and callbacks.

Every driver step makes one batched energy+gradient evaluation shared by all chains, whatever
their phase; chains whose state does not change (arrived, no-op proposal, finished) are left out of
it. The evaluation at an accepted state is reused by the next step.

Every phase's kernel proposes and accepts at every step, in phase order, even when none of its
chains is active, so a run consumes the same random numbers whatever the chains' phases are.

With a :class:`~graph_energy.samplers.frozen.FrozenMask` (``sample(..., frozen=...)``) every phase's
kernel must declare ``supports_frozen``, and a candidate that changes a frozen coordinate raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph
from graph_energy.samplers.frozen import FrozenMask
from graph_energy.samplers.kernels import evaluate_changed, select_labels
from graph_energy.samplers.moves import graph_of
from graph_energy.samplers.phases import Sampler
from graph_energy.samplers.state import ChainState, SampleResult
from graph_energy.samplers.switch import Calibration, SwitchReason
from graph_energy.samplers.target import EnergyTerm, TargetEnergy

__all__ = ["Sampler", "sample", "driver_step", "start_chains"]

log = logging.getLogger(__name__)

Callback = Callable[[ChainState], None]


def _settle(state: ChainState, sampler: Sampler, start: int = 0) -> None:
    """Apply the switches and step caps of phases ``start, start+1, ...`` in order (a chain that enters a
    phase is checked against it at once, so a 0-step phase is passed through)."""
    for p in range(start, len(sampler.phases)):
        phase = sampler.phases[p]
        if phase.switch is not None:
            fired = phase.switch.fired(state.view(p), state.switch_state[phase.name])
            state.leave(fired, p, SwitchReason.THRESHOLD)
        state.leave(state.steps[:, p] >= phase.max_steps, p, SwitchReason.CAP)


def _check_frozen(frozen: FrozenMask, graph: DenseGraph, sampler: Sampler) -> None:
    B, N = graph.node_mask.shape
    if tuple(frozen.node.shape) != (B, N):
        raise ValueError(f"frozen mask is {tuple(frozen.node.shape)} but the chains are {(B, N)}; build it for the "
                         "initial graphs (graph_energy.samplers.fixed_start)")
    bad = [f"{p.name} ({type(p.kernel).__name__})" for p in sampler.phases if not p.kernel.supports_frozen]
    if bad:
        raise ValueError(f"phases {bad} use kernels that do not respect frozen coordinates; use GreedyTransport / "
                         "DiscreteLangevinMH or set supports_frozen = True on a kernel that does")


def start_chains(graph: DenseGraph, target: TargetEnergy, sampler: Sampler,
                 calibration: Calibration | None = None, frozen: FrozenMask | None = None) -> ChainState:
    """Evaluate the initial graphs, set up every phase's kernel and switch state, apply the switches."""
    if frozen is not None:
        _check_frozen(frozen, graph, sampler)
        frozen = frozen.to(graph.x.device)
    state = ChainState.start(graph, target.evaluate(graph), sampler.names, frozen)
    labels = graph.to_labels()
    for p, phase in enumerate(sampler.phases):
        view = state.view(p, labels)
        state.kernel_state[phase.name] = phase.kernel.init_state(view)
        if phase.switch is not None:
            state.switch_state[phase.name] = phase.switch.init_state(view, calibration)
    _settle(state, sampler)
    return state


def driver_step(state: ChainState, target: TargetEnergy, sampler: Sampler,
                generator: torch.Generator | None) -> ChainState:
    """Advance every unfinished chain by one step of its phase (mutates and returns ``state``)."""
    labels = state.graph.to_labels()
    phases = sampler.phases
    cands, actives = [], []
    for p, phase in enumerate(phases):
        active = state.phase == p
        cand = phase.kernel.propose(state.view(p, labels), active, generator=generator)
        if state.frozen is not None and (state.frozen.changed(labels, cand.labels) & active).any():
            raise RuntimeError(f"kernel {type(phase.kernel).__name__} of phase {phase.name!r} changed a frozen "
                               "coordinate although it declares supports_frozen")
        if phase.switch is not None and phase.switch.on_arrival:
            arrived = active & cand.arrived
            if arrived.any():  # the next phase's kernel proposes for these chains in this same step
                state.leave(arrived, p, SwitchReason.ARRIVED)
                _settle(state, sampler, p + 1)
                active = state.phase == p
        cands.append(cand)
        actives.append(active)

    merged, changed, time = labels, torch.zeros_like(actives[0]), None
    for cand, active in zip(cands, actives):
        merged = select_labels(active, cand.labels, merged)
        changed = changed | (active & cand.changed)
        if "time" in cand.info:  # a time-dependent target (flow model): evaluate at the candidates' times
            time = torch.where(active, cand.info["time"], cand.info["time"] if time is None else time)
    idx, new_ev = evaluate_changed(target, state.graph, merged, changed, time)
    cand_eval = state.eval
    if new_ev is not None:
        state.evaluations[idx] += 1
        cand_eval = state.eval.put(idx, new_ev)

    take = torch.zeros_like(changed)
    for p, (phase, cand, active) in enumerate(zip(phases, cands, actives)):
        st = phase.kernel.accept(state.view(p, labels), cand, cand_eval, active, generator=generator)
        take = take | (st.accepted & active)
        state.kernel_state[phase.name] = st.state
        state.add_counters(st.counters)

    if new_ev is not None:
        keep = take[idx]
        if keep.any():
            state.eval = state.eval.put(idx[keep], new_ev.index(keep))
    state.graph = graph_of(select_labels(take, merged, labels), state.graph)
    state.steps = state.steps + torch.stack(actives, 1).long()
    _settle(state, sampler)
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
           initial: DenseGraph | None = None, dtype: torch.dtype = torch.float32, decode: bool = True,
           calibration: Calibration | dict | None = None, frozen: FrozenMask | None = None) -> SampleResult:
    """Run the sampler's phases on a batch of chains until every chain is done.

    Args:
        model: energy model ``model(graph) -> (B,)`` or a :class:`TargetEnergy`.
        spec: :class:`~graph_energy.data.spec.MolecularSpec` (class counts and decoding); may be ``None``
            when ``noise`` or ``initial`` fixes the class counts (no SMILES are decoded then).
        num_nodes: ``(B,)`` long node count per chain (ignored when ``initial`` is given).
        sampler: the phases (default :class:`Sampler()`).
        generator: the only source of randomness (same seed → same samples).
        extra_terms: extra :class:`EnergyTerm` objects added to the target.
        callbacks: called as ``cb(state)`` after the initial evaluation and after every step.
        progress: show a tqdm bar over driver steps.
        noise: object with ``sample(num_nodes, generator) -> DenseGraph`` (default: uniform classes).
        initial: start from these graphs instead of noise (e.g. data-started chains).
        dtype: float dtype of the one-hot graphs.
        decode: decode SMILES when ``spec`` is given.
        calibration: per-size switch thresholds for this call (a :class:`Calibration` or its dict);
            overrides the ones the switches were built with.
        frozen: coordinates of ``initial`` that no kernel may change (scaffolds, inpainting; see
            :func:`~graph_energy.samplers.frozen.fixed_start`); needs ``initial``.

    Returns:
        :class:`SampleResult` with the final graphs and per-chain bookkeeping.
    """
    t0 = time.perf_counter()
    sampler = sampler or Sampler()
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a Sampler (build one from a config with build_sampler), "
                        f"got {type(sampler).__name__}")
    if isinstance(calibration, dict):
        calibration = Calibration.from_dict(calibration)
    target = _as_target(model, extra_terms)
    if frozen is not None and initial is None:
        raise ValueError("frozen coordinates need the initial graphs they belong to; pass initial=... "
                         "(graph_energy.samplers.fixed_start builds both)")
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
    state = start_chains(graph, target, sampler, calibration, frozen)
    for cb in callbacks:
        cb(state)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=sampler.max_steps, desc="sampling", leave=False)
    while not state.done.all():
        if state.step > sampler.max_steps:  # pragma: no cover
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
    names = sampler.names
    return SampleResult(state.graph, smiles, state.eval.energy.detach(), state.eval.model_energy.detach(),
                        state.graph.num_nodes, phase_steps={n: state.steps[:, p] for p, n in enumerate(names)},
                        exit_step={n: state.exit_step[:, p] for p, n in enumerate(names)},
                        exit_reason={n: state.exit_reason[:, p] for p, n in enumerate(names)},
                        evaluations=state.evaluations, counters=dict(state.counters),
                        wall_time=time.perf_counter() - t0)
