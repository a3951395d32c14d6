"""Greedy transport: reaches the global minimum of a linear energy, never touches padding."""

import pytest
import torch
from sampler_toys import LinearEnergy, QuadraticEnergy

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.noise import UniformNoise
from graph_energy.samplers import (
    GreedyTransport,
    Phase,
    Sampler,
    Switch,
    SwitchReason,
    TargetEnergy,
    coordinate_deltas,
    greedy_transport_step,
    sample,
)

N, DX, DE = 5, 3, 4
SIZES = torch.tensor([2, 3, 4, 5, 5, 1])


def transport_only(k: int, max_steps: int = 400) -> Sampler:
    return Sampler([Phase("transport", GreedyTransport(k), max_steps, Switch(on_arrival=True))])


@pytest.mark.parametrize("k", [1, 3, 50])
def test_linear_energy_reaches_global_minimum(k):
    energy = LinearEnergy(N, DX, DE, seed=k)
    trace = []
    res = sample(energy, None, SIZES, transport_only(k), torch.Generator().manual_seed(0),
                 noise=UniformNoise(DX, DE), dtype=torch.float64,
                 callbacks=[lambda s: trace.append(s.eval.energy.clone())])
    assert torch.allclose(res.energy, energy.minimum(res.graphs.node_mask), atol=1e-10)
    assert (res.switch_reason == SwitchReason.ARRIVED).all()
    # the linearisation is exact here: every step lowers (never raises) every chain's energy
    t = torch.stack(trace)
    assert (t[1:] <= t[:-1] + 1e-12).all()
    n_coords = SIZES + SIZES * (SIZES - 1) // 2
    assert (res.transport_steps <= (n_coords + k - 1) // k).all()


def test_quadratic_transport_never_touches_padding_and_respects_cap():
    energy = QuadraticEnergy(N, DX, DE, seed=3)
    sizes = torch.tensor([3, 5, 4, 2])

    def check(state):
        state.graph.validate()
        assert torch.equal(state.graph.node_mask, torch.arange(N)[None] < sizes[:, None])

    res = sample(energy, None, sizes, transport_only(2, max_steps=3), torch.Generator().manual_seed(1),
                 noise=UniformNoise(DX, DE), dtype=torch.float64, callbacks=[check],
                 initial=UniformNoise(DX, DE).sample(sizes, torch.Generator().manual_seed(2), max_nodes=N))
    assert (res.transport_steps <= 3).all()
    assert set(res.switch_reason.tolist()) <= {SwitchReason.ARRIVED, SwitchReason.CAP}


def test_step_edits_distinct_coordinates_and_inactive_chains_unchanged():
    g = torch.Generator().manual_seed(0)
    sizes = torch.tensor([4, 5, 3])
    graph = UniformNoise(DX, DE).sample(sizes, g).to(torch.float64)
    ev = TargetEnergy(LinearEnergy(N, DX, DE)).evaluate(graph)
    lab = graph.to_labels()
    active = torch.tensor([True, False, True])
    move = greedy_transport_step(lab, coordinate_deltas(lab, ev.grad_x, ev.grad_e), 4, active)
    changed_nodes = (move.labels.x != lab.x).sum(1)
    changed_pairs = torch.triu(move.labels.e != lab.e, 1).sum((1, 2))
    assert torch.equal(changed_nodes + changed_pairs, move.num_edits)
    assert move.num_edits[1] == 0 and torch.equal(move.labels.x[1], lab.x[1])
    assert (move.num_edits[[0, 2]] == 4).all()
    assert torch.equal(move.labels.e, move.labels.e.transpose(1, 2))
    assert (move.predicted_change <= 0).all()
    DenseGraph.from_labels(move.labels.x, move.labels.e, move.labels.node_mask, DX, DE).validate()


def test_no_improving_edit_means_arrived():
    lab = GraphLabels(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, 3, dtype=torch.long),
                      torch.ones(1, 3, dtype=torch.bool))
    gx = torch.zeros(1, 3, DX)
    gx[..., 1:] = 1.0  # every change raises the energy
    ge = torch.zeros(1, 3, 3, DE)
    move = greedy_transport_step(lab, coordinate_deltas(lab, gx, ge), 1)
    assert move.arrived.all() and move.num_edits.sum() == 0


def test_per_chain_edit_counts_and_adaptive_halving():
    g = torch.Generator().manual_seed(4)
    sizes = torch.tensor([5, 5, 5])
    graph = UniformNoise(DX, DE).sample(sizes, g).to(torch.float64)
    ev = TargetEnergy(LinearEnergy(N, DX, DE, seed=2)).evaluate(graph)
    lab = graph.to_labels()
    move = greedy_transport_step(lab, coordinate_deltas(lab, ev.grad_x, ev.grad_e), torch.tensor([1, 3, 6]))
    assert move.num_edits.tolist() == [1, 3, 6]
    t = GreedyTransport(8)
    assert t.adapt(torch.tensor([8, 8, 1]), torch.tensor([True, False, True])).tolist() == [4, 8, 1]
    assert GreedyTransport(8, adaptive=False).adapt(torch.tensor([8]), torch.tensor([True])).tolist() == [8]


def test_adaptive_transport_on_a_curved_energy_backs_off():
    energy = QuadraticEnergy(N, DX, DE, seed=5, scale=3.0)
    seen = []
    sample(energy, None, torch.tensor([5] * 16), transport_only(64, max_steps=30), torch.Generator().manual_seed(0),
           noise=UniformNoise(DX, DE), dtype=torch.float64, callbacks=[lambda s: seen.append(s.kernel_state["transport"]["edits_per_step"].clone())])
    edits = torch.stack(seen)
    assert (edits[1:] <= edits[:-1]).all() and (edits >= 1).all()
    assert edits[-1].min() < 64  # at least one chain overshot and backed off
