"""Frozen coordinates (scaffolds, inpainting): no kernel changes them, MH stays exact on the free
coordinates (enumerable toys), the driver refuses kernels that do not support them, the fixed start,
and the constraint terms."""

import numpy as np
import pytest
import torch
from sampler_toys import (
    MLPEnergy,
    QuadraticEnergy,
    enumerate_states,
    exact_mh_matrix,
    mixing_only,
    state_index,
    two_phase,
)
from toy_kernels import ToyKernel

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.data.spec import KEKULE_BONDS, MolecularSpec
from graph_energy.noise import UniformNoise
from graph_energy.samplers import (
    ChainView,
    ConnectedTerm,
    DiscreteLangevinMH,
    FixedPart,
    FrozenMask,
    GreedyTransport,
    LangevinProposal,
    Phase,
    Sampler,
    TargetEnergy,
    fixed_start,
    num_components,
    proposal_logits,
    propose,
    sample,
)
from graph_energy.samplers.constraints import ValenceTerm

SPEC = MolecularSpec("toy", ("C", "N", "O"), KEKULE_BONDS, max_nodes=7)
DX, DE = 3, 4


def ring_part(capacity=None):
    """A 3-ring C1CN1 (labels), every atom open."""
    x = np.array([0, 0, 1])
    e = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    if capacity:
        return FixedPart.with_capacity(x, e, np.ones(3, bool), SPEC)
    return FixedPart(x, e, np.ones(3, bool))


def start(sizes, seed=0, fixed=None, bond_orders=None):
    noise = UniformNoise(DX, DE).sample(torch.tensor(sizes), torch.Generator().manual_seed(seed))
    return fixed_start(fixed or ring_part(), noise, bond_orders)


def frozen_values(graph: DenseGraph, frozen: FrozenMask):
    lab = graph.to_labels()
    return lab.x[frozen.node], lab.e[frozen.edge]


@pytest.mark.parametrize("capacity", [False, True])
def test_no_kernel_ever_changes_a_frozen_coordinate(capacity):
    initial, frozen = start([4, 7, 5, 6, 3, 7], fixed=ring_part(capacity), bond_orders=SPEC.bond_orders)
    x0, e0 = frozen_values(initial, frozen)
    seen = []

    def kept(graph):
        x, e = frozen_values(graph, frozen)
        assert torch.equal(x, x0) and torch.equal(e, e0)
        assert bool(frozen.allowed(graph.to_labels()).all())

    def check(state):
        kept(state.graph)
        seen.append(state.graph.to_labels().e.clone())

    model = MLPEnergy(DX, DE, seed=1)
    sampler = two_phase(10, 30, edits_per_step=3, beta_prop=1.0, lambda_x=0.5, lambda_e=0.5, beta_mh=1.0)
    res = sample(model, SPEC, sampler=sampler, generator=torch.Generator().manual_seed(0), initial=initial,
                 frozen=frozen, callbacks=[check])
    assert len(seen) > 30 and not torch.equal(seen[0], seen[-1])       # the free part did move
    assert int(res.accepted.sum()) > int(res.noops.sum())              # real moves were accepted
    # the same with each kernel on its own (Kernel.step, outside the driver)
    target = TargetEnergy(model)
    for kernel in (GreedyTransport(4), DiscreteLangevinMH(LangevinProposal(0.5, 0.0, 0.0), 1.0)):
        view = ChainView.start(initial, target.evaluate(initial), frozen)
        view = ChainView(view.graph, view.labels, view.eval, view.steps, kernel.init_state(view), frozen)
        for s in range(10):
            view = view.advance(kernel.step(view, target, generator=torch.Generator().manual_seed(s)))
            kept(view.graph)


def test_capacity_limits_the_bonds_from_fixed_atoms():
    spec_orders = SPEC.bond_orders
    fixed = FixedPart.with_capacity(np.array([0, 1]), np.array([[0, 2], [2, 0]]), np.ones(2, bool), SPEC)  # C=N
    assert fixed.capacity.tolist() == [2.0, 1.0]
    initial, frozen = start([5] * 50, fixed=fixed, bond_orders=spec_orders)
    lab = initial.to_labels()
    assert (lab.x[:, :2] == torch.tensor([0, 1])).all() and (lab.e[:, 0, 1] == 2).all()
    # N=C: the N (capacity 1) takes at most single bonds to free atoms, the C (capacity 2) at most double
    assert int(lab.e[:, 1, 2:].max()) <= 1 and int(lab.e[:, 0, 2:].max()) <= 2
    assert frozen.edge_classes[:, 1, 2:, 2:].sum() == 0 and frozen.edge_classes[:, 0, 2:, 3].sum() == 0
    assert frozen.edge_classes[:, 2:, 2:].all()                         # free pairs: every class
    closed = FixedPart.with_capacity(np.array([0, 1]), np.array([[0, 3], [3, 0]]), np.ones(2, bool), SPEC)  # C#N
    _, fz = start([4], fixed=closed, bond_orders=spec_orders)
    assert fz.edge[0, 1, 2:].all()                                      # N has no valence left: frozen to none


def test_attachment_points_close_the_other_fixed_atoms():
    fixed = FixedPart(np.array([0, 0, 1]), np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]), np.array([False, True, False]))
    initial, frozen = start([6, 5], fixed=fixed)
    lab = initial.to_labels()
    assert frozen.edge[0, 0, 3:].all() and frozen.edge[0, 2, 3:].all() and not frozen.edge[:, 1, 3:].any()
    assert frozen.edge[1, 0, 3:5].all() and frozen.edge[1, 2, 3:5].all()
    assert (lab.e[:, 0, 3:] == 0).all() and (lab.e[:, 2, 3:] == 0).all()
    assert frozen.node[:, :3].all() and not frozen.node[:, 3:].any()
    assert not frozen.node[1, 5] and not frozen.edge[1, 5].any()        # padding is never frozen
    assert torch.equal(frozen.num_frozen, torch.tensor([3 + 3 + 2 * 3, 3 + 3 + 2 * 2]))


def test_driver_refuses_kernels_without_frozen_support():
    initial, frozen = start([4, 5])
    toy = Sampler([Phase("toy", ToyKernel(), 3)])
    with pytest.raises(ValueError, match=r"phases \['toy \(ToyKernel\)'\] use kernels that do not respect frozen"):
        sample(MLPEnergy(DX, DE), SPEC, sampler=toy, initial=initial, frozen=frozen)

    class Liar(ToyKernel):
        supports_frozen = True

    with pytest.raises(RuntimeError, match="kernel Liar of phase 'toy' changed a frozen coordinate"):
        sample(MLPEnergy(DX, DE), SPEC, sampler=Sampler([Phase("toy", Liar(), 3)]), initial=initial, frozen=frozen)
    with pytest.raises(ValueError, match="need the initial graphs"):
        sample(MLPEnergy(DX, DE), SPEC, torch.tensor([4, 5]), frozen=frozen)
    with pytest.raises(ValueError, match="frozen mask is"):
        sample(MLPEnergy(DX, DE), SPEC, initial=initial, frozen=frozen.index(slice(0, 1)))


# ------------------------------------------------------------------ exactness on an enumerable toy
N, TX, TE = 3, 2, 3


def restricted_space(frozen_node0: bool, frozen_pairs0: bool, restrict_pair12: bool):
    """States of 3 nodes (2 atom, 3 bond classes) with node 0 in class 1 (and pairs (0,1), (0,2) in class 1)
    where frozen; the FrozenMask for all of them."""
    lab = enumerate_states(N, TX, TE)
    keep = torch.ones(lab.x.shape[0], dtype=torch.bool)
    if frozen_node0:
        keep &= lab.x[:, 0] == 1
    if frozen_pairs0:
        keep &= (lab.e[:, 0, 1] == 1) & (lab.e[:, 0, 2] == 1)
    if restrict_pair12:
        keep &= lab.e[:, 1, 2] != 2
    lab = GraphLabels(lab.x[keep], lab.e[keep], lab.node_mask[keep])
    S = lab.x.shape[0]
    node = torch.zeros(S, N, dtype=torch.bool)
    edge = torch.zeros(S, N, N, dtype=torch.bool)
    node[:, 0] = frozen_node0
    if frozen_pairs0:
        edge[:, 0, 1:] = edge[:, 1:, 0] = True
    classes = None
    if restrict_pair12:
        classes = torch.ones(S, N, N, TE, dtype=torch.bool)
        classes[:, 1, 2, 2] = classes[:, 2, 1, 2] = False
    return lab, FrozenMask(node, edge, classes)


CASES = [(True, False, False), (True, True, False), (True, True, True), (False, False, True)]


@pytest.mark.parametrize("case", CASES, ids=["node0", "node0+pairs", "node0+pairs+classes", "classes"])
@pytest.mark.parametrize("knobs", [(1.5, 1.0, 2.0), (0.0, 0.5, 0.5)])
def test_mh_is_exact_on_the_free_coordinates(case, knobs):
    lab, frozen = restricted_space(*case)
    S = lab.x.shape[0]
    graph = DenseGraph.from_labels(lab.x, lab.e, lab.node_mask, TX, TE, torch.float64)
    target = TargetEnergy(QuadraticEnergy(N, TX, TE, seed=3))
    ev = target.evaluate(graph)
    beta = 1.3
    P, logq = exact_mh_matrix(lab, ev, beta, knobs, frozen=frozen)
    # the proposal is a distribution on the restricted space: nothing leaks to frozen-changing states
    assert torch.allclose(logq.exp().sum(1), torch.ones(S, dtype=torch.float64), atol=1e-12)
    energy = ev.energy.double()
    pi = torch.softmax(-beta * energy, 0)  # π conditioned on the frozen coordinates
    flow = pi[:, None] * P
    assert torch.allclose(flow, flow.T, atol=1e-14)
    assert torch.allclose(pi @ P, pi, atol=1e-12)
    # and draws from the proposal never leave it
    b, R = S // 2, 4000
    src = GraphLabels(lab.x[b:b + 1].expand(R, -1), lab.e[b:b + 1].expand(R, -1, -1), torch.ones(R, N, dtype=torch.bool))
    fr = frozen.index(torch.full((R,), b))
    logits = proposal_logits(src, ev.grad_x[b:b + 1].expand(R, -1, -1), ev.grad_e[b:b + 1].expand(R, -1, -1, -1),
                             *knobs, frozen=fr)
    drawn = propose(src, logits, torch.Generator().manual_seed(0)).labels
    assert not fr.changed(src, drawn).any() and fr.allowed(drawn).all()


def test_driver_chains_sample_the_conditional_distribution():
    """Many MH chains (driver, node 0 and its pairs frozen) match softmax(−β E) on the restricted space."""
    lab, frozen = restricted_space(True, True, False)
    S = lab.x.shape[0]
    target = TargetEnergy(MLPEnergy(TX, TE, seed=2))
    chains, beta, burn, every = 1500, 1.5, 30, 8
    pick = torch.randint(0, S, (chains,), generator=torch.Generator().manual_seed(1))
    init = DenseGraph.from_labels(lab.x[pick], lab.e[pick], lab.node_mask[pick], TX, TE, torch.float64)
    index_of = {int(k): i for i, k in enumerate(state_index(lab, TX, TE))}
    counts = torch.zeros(S, dtype=torch.float64)

    def collect(state):
        if state.step >= burn and (state.step - burn) % every == 0:
            for k in state_index(state.graph.to_labels(), TX, TE).tolist():
                counts[index_of[k]] += 1  # KeyError = a chain left the restricted space

    sample(target, None, sampler=mixing_only(burn + 4 * every, 0.5, 0.0, 0.0, beta),
           generator=torch.Generator().manual_seed(2), initial=init, frozen=frozen.index(pick), callbacks=[collect],
           dtype=torch.float64)
    graph = DenseGraph.from_labels(lab.x, lab.e, lab.node_mask, TX, TE, torch.float64)
    pi = torch.softmax(-beta * target.energy(graph).double(), 0)
    tv = 0.5 * (counts / counts.sum() - pi).abs().sum()
    assert tv < 0.03, f"total variation {tv:.4f}"


# ------------------------------------------------------------------ constraint terms
def test_components_and_valence_terms():
    x = torch.tensor([[0, 0, 1, 2, 0], [0, 2, 0, 0, 0]])
    e = torch.zeros(2, 5, 5, dtype=torch.long)
    for b, i, j, c in [(0, 0, 1, 1), (0, 2, 3, 2), (1, 0, 1, 3), (1, 1, 2, 1)]:
        e[b, i, j] = e[b, j, i] = c
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    g = DenseGraph.from_labels(x, e, mask, DX, DE)
    assert num_components(g).tolist() == [3, 1]      # {0,1}, {2,3}, {4};  {0,1,2}
    assert ConnectedTerm(2.0)(g).tolist() == [4.0, 0.0]
    # graph 0: N=O, both within valence; graph 1: O (class 2) with a triple and a single bond: 4 > 2
    assert ValenceTerm(SPEC, 3.0)(g).tolist() == [0.0, 6.0]
