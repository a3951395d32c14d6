"""A term changes the MH target exactly: enumerable toy (3 nodes, atoms C/N, bonds none/single; all 64
labelled graphs are valid molecules), exact transition matrices and long driver runs against
``softmax(−β·(E + Σ_k w_k P_k))`` with the properties computed independently of the term code."""

import math

import torch
from sampler_toys import MLPEnergy, QuadraticEnergy, enumerate_states, exact_mh_matrix, state_index
from term_toys import DE, DX, TOY_SPEC, N

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.noise import UniformNoise
from graph_energy.samplers import (
    DiscreteLangevinMH,
    LangevinProposal,
    Phase,
    Sampler,
    TargetEnergy,
    mh_accept,
    sample,
)
from graph_energy.terms import PredictorTerm, Target, property_term

S = 64
KNOBS = (0.5, 0.0, 0.0)  # fast-mixing proposal on this tiny space
BETA = 2.0


def all_states() -> tuple[GraphLabels, DenseGraph]:
    lab = enumerate_states(N, DX, DE)
    return lab, DenseGraph.from_labels(lab.x, lab.e, lab.node_mask, DX, DE, torch.float64)


def nitrogens(lab: GraphLabels) -> torch.Tensor:
    return (lab.x == 1).sum(1).double()


def rings(lab: GraphLabels) -> torch.Tensor:
    return (lab.e[:, 0, 1] * lab.e[:, 0, 2] * lab.e[:, 1, 2]).double()  # the triangle is the only ring


def nn_bonds(lab: GraphLabels) -> torch.Tensor:
    iu, ju = torch.triu_indices(N, N, offset=1)
    both_n = (lab.x[:, iu] == 1) & (lab.x[:, ju] == 1)
    return ((lab.e[:, iu, ju] > 0) & both_n).sum(1).double()


def exact_terms():
    return [property_term("count_N", target=1.0, scale=1.0, weight=0.8, name="n"),
            property_term("rings", hi=0, scale=1.0, weight=1.5, name="ring")]


def reference_energy(model, lab, graph) -> torch.Tensor:
    """E + 0.8 (#N − 1)² + 1.5 · rings², computed without any term code."""
    return model(graph).double() + 0.8 * (nitrogens(lab) - 1) ** 2 + 1.5 * rings(lab) ** 2


def transition_matrix(target: TargetEnergy, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact MH transition matrix ``P (S,S)`` of the discrete-Langevin kernel for ``target`` (the library's
    proposal and :func:`mh_accept`; a NaN or −inf log-ratio accepts with probability 0)."""
    lab, graph = all_states()
    ev = target.evaluate(graph)
    return exact_mh_matrix(lab, ev, beta, KNOBS)[0], ev.energy.double()


def check_stationary(P: torch.Tensor, pi: torch.Tensor) -> None:
    flow = pi[:, None] * P
    assert torch.allclose(flow, flow.T, atol=1e-14)
    assert torch.allclose(pi @ P, pi, atol=1e-12)


def test_exact_terms_change_the_target_exactly():
    model = QuadraticEnergy(N, DX, DE, seed=1)
    target = TargetEnergy(model, [t.bind(TOY_SPEC) for t in exact_terms()])
    lab, graph = all_states()
    P, energy = transition_matrix(target, BETA)
    ref = reference_energy(model, lab, graph)
    assert torch.allclose(energy, ref.to(torch.float64), atol=1e-12)
    check_stationary(P, torch.softmax(-BETA * ref, 0))
    # and not for the model alone: the terms really moved the stationary distribution
    tv = 0.5 * (torch.softmax(-BETA * ref, 0) - torch.softmax(-BETA * model(graph).double(), 0)).abs().sum()
    assert tv > 0.2


def run(target, chains, steps, burn, every, seed, callbacks=()):
    sampler = Sampler([Phase("mixing", DiscreteLangevinMH(LangevinProposal(*KNOBS), beta_mh=BETA), steps)])
    counts = torch.zeros(S, dtype=torch.float64)

    def collect(state):
        if state.step >= burn and (state.step - burn) % every == 0:
            counts.add_(torch.bincount(state_index(state.graph.to_labels(), DX, DE), minlength=S).double())

    res = sample(target, None, torch.full((chains,), N), sampler, torch.Generator().manual_seed(seed),
                 callbacks=[collect, *callbacks], noise=UniformNoise(DX, DE), dtype=torch.float64)
    return counts / counts.sum(), res


def test_driver_chains_sample_model_plus_terms():
    model = MLPEnergy(DX, DE, seed=2)
    terms = [t.bind(TOY_SPEC) for t in exact_terms()]
    emp, _ = run(TargetEnergy(model, terms), chains=3000, steps=90, burn=40, every=10, seed=3)
    lab, graph = all_states()
    pi = torch.softmax(-BETA * reference_energy(model, lab, graph).detach(), 0)
    tv = 0.5 * (emp - pi).abs().sum()
    assert tv < 0.025, f"total variation {tv:.4f}"
    assert terms[0].cache.stats.decodes == S  # every state decoded once, all later visits are cache hits


def test_hard_constraint_is_never_violated_by_an_accepted_state():
    model = QuadraticEnergy(N, DX, DE, seed=4)
    term = property_term("smarts:[#7]~[#7]", hi=0, hard=True, name="no_nn").bind(TOY_SPEC)
    target = TargetEnergy(model, [term])
    lab, graph = all_states()
    forbidden = nn_bonds(lab) > 0
    assert torch.equal(torch.isinf(target.energy(graph)), forbidden)
    seen_allowed = {}
    violations = []

    def watch(state):
        bad = forbidden[state_index(state.graph.to_labels(), DX, DE)]
        was = seen_allowed.get("mask", torch.zeros_like(bad))
        violations.append(int((was & bad).sum()))  # a chain that reached an allowed state left it again
        seen_allowed["mask"] = was | ~bad

    emp, res = run(target, chains=3000, steps=90, burn=40, every=10, seed=5, callbacks=[watch])
    assert sum(violations) == 0
    assert not torch.isinf(res.energy).any()  # every chain that started in a forbidden state moved out
    assert emp[forbidden].sum() == 0
    pi = torch.softmax(-BETA * model(graph).double().masked_fill(forbidden, math.inf), 0)
    assert 0.5 * (emp - pi).abs().sum() < 0.025
    P, _ = transition_matrix(target, BETA)
    check_stationary(P, pi)
    assert (P[~forbidden][:, forbidden] == 0).all()  # no allowed -> forbidden move has positive probability


def test_mh_accept_semantics_for_infinite_energies():
    g = torch.Generator().manual_seed(0)
    inf = math.inf
    delta = torch.tensor([inf, -inf, inf - inf, 0.0] * 250, dtype=torch.float64)  # to forbidden, out of it, both
    zero = torch.zeros_like(delta)
    noop = torch.zeros(delta.shape, dtype=torch.bool)
    for beta in (0.5, 1.0, 17.6):
        acc, log_alpha = mh_accept(delta, zero, zero, torch.full_like(delta, beta), noop, g)
        acc = acc.view(-1, 4)
        assert not acc[:, 0].any()  # a proposal to a forbidden state is always rejected
        assert acc[:, 1].all()  # a chain in a forbidden state takes any allowed proposal
        assert not acc[:, 2].any()  # forbidden -> forbidden: NaN ratio, rejected
        assert acc[:, 3].all()
        assert log_alpha.view(-1, 4)[0, 0] == -inf and log_alpha.view(-1, 4)[0, 1] == inf


class Predictor(torch.nn.Module):
    """A differentiable "property": a random MLP of the graph."""

    def __init__(self) -> None:
        super().__init__()
        self.net = MLPEnergy(DX, DE, seed=7)

    def forward(self, graph):
        return self.net(graph)


def test_differentiable_term_changes_the_target_exactly():
    model = QuadraticEnergy(N, DX, DE, seed=1)
    pred = Predictor()
    term = PredictorTerm(predictor=pred, penalty=Target(0.5, scale=0.5), weight=0.7, name="pred")
    target = TargetEnergy(model, [term])
    lab, graph = all_states()
    with torch.no_grad():
        ref = model(graph).double() + 0.7 * ((pred(graph).double() - 0.5) / 0.5) ** 2
    P, energy = transition_matrix(target, BETA)
    assert torch.allclose(energy, ref, atol=1e-12)
    check_stationary(P, torch.softmax(-BETA * ref, 0))
