"""Exactness of the discrete-Langevin MH kernel on an enumerable toy space (3 nodes, 2 atom, 2 bond classes)."""

import math

import pytest
import torch
from sampler_toys import (
    MLPEnergy,
    QuadraticEnergy,
    enumerate_states,
    exact_mh_matrix,
    mixing_only,
    state_index,
)

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.samplers import (
    ConstantSchedule,
    FunctionTerm,
    LangevinProposal,
    TargetEnergy,
    proposal_log_prob,
    proposal_logits,
    propose,
    sample,
)

N, DX, DE = 3, 2, 2
KNOBS = [(2.36, 4.0, 4.83), (0.5, 0.0, 0.0), (1.5, 1.0, 2.0)]


def bond_count_term(graph: DenseGraph) -> torch.Tensor:
    """Non-differentiable: number of bonds (from the labels)."""
    return (graph.e.argmax(-1) > 0).sum((1, 2)).double() / 2


def targets():
    quad = TargetEnergy(QuadraticEnergy(N, DX, DE, seed=1))
    mlp = TargetEnergy(MLPEnergy(DX, DE, seed=2), [FunctionTerm(bond_count_term, weight=0.7, name="bonds")])
    return {"quadratic": quad, "mlp+nondiff": mlp}


def all_states() -> tuple[GraphLabels, DenseGraph]:
    lab = enumerate_states(N, DX, DE)
    return lab, DenseGraph.from_labels(lab.x, lab.e, lab.node_mask, DX, DE, torch.float64)


def naive_log_q(x_from: GraphLabels, gx: torch.Tensor, ge: torch.Tensor, x_to: GraphLabels, b: int, k: int,
                beta: float, lx: float, le: float) -> float:
    """log q(x_to[k] | x_from[b]) coordinate by coordinate with python loops."""
    total = 0.0
    for i in range(N):
        a = int(x_from.x[b, i])
        logits = [0.0 if c == a else -beta * float(gx[b, i, c] - gx[b, i, a]) - lx for c in range(DX)]
        z = math.log(sum(math.exp(v) for v in logits))
        total += logits[int(x_to.x[k, i])] - z
    for i in range(N):
        for j in range(i + 1, N):
            a = int(x_from.e[b, i, j])
            logits = [0.0 if c == a else -beta * float(ge[b, i, j, c] - ge[b, i, j, a]) - le for c in range(DE)]
            z = math.log(sum(math.exp(v) for v in logits))
            total += logits[int(x_to.e[k, i, j])] - z
    return total


@pytest.mark.parametrize("beta_prop,lambda_x,lambda_e", KNOBS)
def test_proposal_log_prob_matches_bruteforce(beta_prop, lambda_x, lambda_e):
    lab, graph = all_states()
    ev = TargetEnergy(MLPEnergy(DX, DE, seed=3)).evaluate(graph)
    S = lab.x.shape[0]
    for b in (0, 17, 45):  # a few source states
        src = GraphLabels(lab.x[b:b + 1].expand(S, -1), lab.e[b:b + 1].expand(S, -1, -1), lab.node_mask)
        logits = proposal_logits(src, ev.grad_x[b:b + 1].expand(S, -1, -1), ev.grad_e[b:b + 1].expand(S, -1, -1, -1),
                                 beta_prop, lambda_x, lambda_e)
        lq = proposal_log_prob(logits, lab)  # log q(x' | x_b) for every x'
        assert torch.allclose(lq.exp().sum(), torch.tensor(1.0, dtype=lq.dtype), atol=1e-10)
        for k in (0, b, 33, 63):
            ref = naive_log_q(lab, ev.grad_x, ev.grad_e, lab, b, k, beta_prop, lambda_x, lambda_e)
            assert abs(float(lq[k]) - ref) < 1e-10


def test_proposal_sampling_matches_log_prob():
    lab, graph = all_states()
    ev = TargetEnergy(QuadraticEnergy(N, DX, DE, seed=4)).evaluate(graph)
    b, R = 21, 40000
    src = GraphLabels(lab.x[b:b + 1].expand(R, -1), lab.e[b:b + 1].expand(R, -1, -1), torch.ones(R, N, dtype=torch.bool))
    logits = proposal_logits(src, ev.grad_x[b:b + 1].expand(R, -1, -1), ev.grad_e[b:b + 1].expand(R, -1, -1, -1),
                             1.0, 0.5, 0.5)
    prop = propose(src, logits, torch.Generator().manual_seed(0))
    emp = torch.bincount(state_index(prop.labels, DX, DE), minlength=64).double() / R
    src64 = GraphLabels(src.x[:64], src.e[:64], src.node_mask[:64])
    logits64 = proposal_logits(src64, ev.grad_x[b:b + 1].expand(64, -1, -1), ev.grad_e[b:b + 1].expand(64, -1, -1, -1),
                               1.0, 0.5, 0.5)
    exact = proposal_log_prob(logits64, lab).exp()
    assert 0.5 * (emp - exact).abs().sum() < 0.02
    assert torch.equal(prop.noop, state_index(prop.labels, DX, DE) == b)


def transition_matrix(target: TargetEnergy, beta_mh: float, knobs) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact MH transition matrix ``P (S,S)`` of the kernel and the target ``π (S,)``."""
    lab, graph = all_states()
    ev = target.evaluate(graph)
    P, _ = exact_mh_matrix(lab, ev, beta_mh, knobs)
    return P, torch.softmax(-beta_mh * ev.energy.double(), 0)


@pytest.mark.parametrize("name", ["quadratic", "mlp+nondiff"])
@pytest.mark.parametrize("knobs", KNOBS)
def test_exact_detailed_balance(name, knobs):
    P, pi = transition_matrix(targets()[name], 1.3, knobs)
    flow = pi[:, None] * P
    assert torch.allclose(flow, flow.T, atol=1e-14)
    assert torch.allclose(pi @ P, pi, atol=1e-12)


def run_chains(target, knobs, beta, chains, steps, burn, every, seed, initial=None):
    sampler = mixing_only(steps, *knobs, ConstantSchedule(beta))
    counts = torch.zeros(64, dtype=torch.float64)

    def collect(state):
        if state.step >= burn and (state.step - burn) % every == 0:
            counts.add_(torch.bincount(state_index(state.graph.to_labels(), DX, DE), minlength=64).double())

    from graph_energy.noise import UniformNoise
    res = sample(target, None, torch.full((chains,), N), sampler, torch.Generator().manual_seed(seed),
                 callbacks=[collect], noise=UniformNoise(DX, DE), initial=initial, dtype=torch.float64)
    _, graph = all_states()
    pi = torch.softmax(-beta * target.energy(graph).double(), 0)
    tv = 0.5 * (counts / counts.sum() - pi).abs().sum()
    assert (res.mixing_steps == steps).all()
    # one evaluation per step at most, none for no-op proposals
    assert (res.evaluations == 1 + steps - res.noops).all()
    return tv, pi


FAST = [("quadratic", KNOBS[1]), ("mlp+nondiff", KNOBS[2])]
SLOW = [("mlp+nondiff", KNOBS[1]), ("quadratic", KNOBS[2])]


@pytest.mark.parametrize("name,knobs", FAST + [pytest.param(*c, marks=pytest.mark.slow) for c in SLOW])
def test_long_chains_match_boltzmann(name, knobs):
    """Empirical distribution of many parallel chains (driver, mixing only, from noise) vs softmax(−β_mh·E).

    Burn-in and spacing are several relaxation times of the exact transition matrix (~8–22 steps here)."""
    burn, every = (60, 12) if (name, knobs) in FAST else (150, 25)
    tv, _ = run_chains(targets()[name], knobs, 2.0, chains=3000, steps=burn + 5 * every, burn=burn, every=every,
                       seed=5)
    assert tv < 0.02, f"total variation {tv:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["quadratic", "mlp+nondiff"])
def test_reference_knobs_keep_boltzmann_invariant(name):
    """The reference knobs (λ ≈ 4–5) mix slowly on this tiny space (relaxation time ~500 steps), so start
    the chains at π and check the driver keeps it there."""
    target, beta = targets()[name], 2.0
    lab, graph = all_states()
    pi = torch.softmax(-beta * target.energy(graph).double(), 0)
    pick = torch.multinomial(pi, 20000, replacement=True, generator=torch.Generator().manual_seed(9))
    init = DenseGraph.from_labels(lab.x[pick], lab.e[pick], lab.node_mask[pick], DX, DE, torch.float64)
    tv, _ = run_chains(target, KNOBS[0], beta, chains=20000, steps=40, burn=0, every=20, seed=6, initial=init)
    assert tv < 0.02, f"total variation {tv:.4f}"


def test_langevin_proposal_object_matches_the_functions():
    lab, graph = all_states()
    ev = TargetEnergy(MLPEnergy(DX, DE, seed=3)).evaluate(graph)
    q = LangevinProposal(1.5, 1.0, 2.0)
    logits = proposal_logits(lab, ev.grad_x, ev.grad_e, 1.5, 1.0, 2.0)
    active = torch.arange(lab.x.shape[0]) % 3 == 0
    a = q.propose(lab, ev, torch.Generator().manual_seed(2), active)
    b = propose(lab, logits, torch.Generator().manual_seed(2), active)
    assert torch.equal(a.labels.e, b.labels.e) and torch.equal(a.log_q_forward, b.log_q_forward)
    assert a.noop[~active].all()
    assert torch.equal(q.log_prob(lab, ev, a.labels), proposal_log_prob(logits, a.labels))
