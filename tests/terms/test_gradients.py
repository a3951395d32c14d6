"""Gradients of a learned (differentiable) term reach the transport edits and the MH proposal."""

import torch
from sampler_toys import LinearEnergy

from graph_energy.data.dense import DenseGraph
from graph_energy.models.energy_eval import energy_and_grad
from graph_energy.noise import UniformNoise
from graph_energy.samplers import (
    GreedyTransport,
    LangevinProposal,
    TargetEnergy,
    coordinate_deltas,
    proposal_logits,
)
from graph_energy.samplers.kernels import ChainView
from graph_energy.samplers.transport import greedy_transport_step
from graph_energy.terms import PredictorTerm, PropertyPredictor, Target, Window

N, DX, DE = 5, 3, 2


def setup(weight=4.0):
    model = LinearEnergy(N, DX, DE, seed=0)
    pred = LinearEnergy(N, DX, DE, seed=1)
    term = PredictorTerm(predictor=lambda_module(pred), penalty=Target(-3.0, scale=0.5), weight=weight, name="p")
    graph = UniformNoise(DX, DE).sample(torch.full((6,), N), generator=torch.Generator().manual_seed(0))
    graph = DenseGraph(graph.x.double(), graph.e.double(), graph.node_mask)
    return model, pred, term, graph


class lambda_module(torch.nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, graph):
        return self.fn(graph)


def test_target_gradient_is_model_plus_weighted_term_gradient():
    model, pred, term, graph = setup()
    ev = TargetEnergy(model, [term]).evaluate(graph)
    ref = energy_and_grad(lambda g: model(g) + 4.0 * ((pred(g) - (-3.0)) / 0.5) ** 2, graph)
    assert torch.allclose(ev.energy, ref.energy) and torch.allclose(ev.grad_x, ref.grad_x)
    assert torch.allclose(ev.grad_e, ref.grad_e)
    assert torch.allclose(ev.terms["p"], ref.energy - model(graph))
    alone = energy_and_grad(model, graph)
    assert (ev.grad_x - alone.grad_x).abs().max() > 1.0  # the term's gradient is really there


def test_mh_proposal_uses_the_terms_gradient():
    model, _, term, graph = setup()
    labels = graph.to_labels()
    ev = TargetEnergy(model, [term]).evaluate(graph)
    prop = LangevinProposal(1.0, 0.5, 0.5)
    got = prop.logits(labels, ev)
    want = proposal_logits(labels, ev.grad_x, ev.grad_e, 1.0, 0.5, 0.5)
    assert torch.equal(got.node, want.node) and torch.equal(got.edge, want.edge)
    model_only = prop.logits(labels, TargetEnergy(model).evaluate(graph))
    assert not torch.allclose(got.node, model_only.node)


def test_transport_edits_follow_the_terms_gradient():
    model, _, term, graph = setup(weight=50.0)
    labels = graph.to_labels()
    with_term = TargetEnergy(model, [term]).evaluate(graph)
    kernel = GreedyTransport(edits_per_step=1, adaptive=False)
    active = torch.ones(graph.batch_size, dtype=torch.bool)
    view = ChainView.start(graph, with_term)
    view = ChainView(view.graph, view.labels, view.eval, view.steps, kernel.init_state(view))
    cand = kernel.propose(view, active)
    want = greedy_transport_step(labels, coordinate_deltas(labels, with_term.grad_x, with_term.grad_e), 1, active)
    assert torch.equal(cand.labels.x, want.labels.x) and torch.equal(cand.labels.e, want.labels.e)
    alone = TargetEnergy(model).evaluate(graph)
    plain = greedy_transport_step(labels, coordinate_deltas(labels, alone.grad_x, alone.grad_e), 1, active)
    assert not (torch.equal(plain.labels.x, want.labels.x) and torch.equal(plain.labels.e, want.labels.e))


def test_predictor_in_physical_units_and_its_window_gradient():
    net = lambda_module(lambda g: torch.stack([g.x[..., 0].sum(1), g.e[..., 1].sum((1, 2))], 1))
    pred = PropertyPredictor(net, ["a", "b"], mean=[1.0, -2.0], std=[2.0, 0.5])
    _, _, _, graph = setup()
    raw = net(graph)
    assert torch.allclose(pred(graph), raw * torch.tensor([2.0, 0.5], dtype=raw.dtype) + torch.tensor([1.0, -2.0]))
    term = PredictorTerm(predictor=pred, penalty=Window(0.0, 1.0), property="b", weight=1.0)
    assert torch.allclose(term.predict(graph), pred(graph)[:, 1])
    ev = TargetEnergy(lambda g: g.x.sum((1, 2)) * 0, [term]).evaluate(graph)
    outside = ~Window(0.0, 1.0).inside(term.predict(graph).detach())
    assert ((ev.grad_e.abs().sum((1, 2, 3)) > 0) == outside).all()  # flat bottom: no gradient inside
