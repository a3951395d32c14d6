import pytest
import torch
import torch.nn.functional as F
from model_helpers import TINY, random_graph

from graph_energy.data.dense import DenseGraph
from graph_energy.models import (
    ClassHead,
    ClassLogits,
    EnergyHead,
    FeatureDims,
    GraphNetwork,
    GraphTransformerBackbone,
    GraphTransformerEnergy,
    RegressionHead,
    build_model,
    energy_and_grad,
)


def permute(graph: DenseGraph, perm: torch.Tensor) -> DenseGraph:
    return DenseGraph(graph.x[:, perm], graph.e[:, perm][:, :, perm], graph.node_mask[:, perm])


def pad(graph: DenseGraph, extra: int) -> DenseGraph:
    return DenseGraph(F.pad(graph.x, (0, 0, 0, extra)), F.pad(graph.e, (0, 0, 0, extra, 0, extra)),
                      F.pad(graph.node_mask, (0, extra)))


def network(spec, head, seed=0, **backbone) -> GraphNetwork:
    torch.manual_seed(seed)
    return GraphNetwork(spec, GraphTransformerBackbone(spec, **{**TINY, **backbone}), head).double().eval()


def test_flat_energy_model_equals_backbone_plus_energy_head(spec):
    torch.manual_seed(0)
    flat = GraphTransformerEnergy(spec, **TINY).double()
    composed = network(spec, EnergyHead)
    g = random_graph(spec, [9, 5, 1, 12], 12, seed=1)
    a, b = energy_and_grad(flat, g), energy_and_grad(composed, g)
    assert torch.equal(a.energy, b.energy) and torch.equal(a.grad_x, b.grad_x) and torch.equal(a.grad_e, b.grad_e)
    # same parameters in the same order: the flat names are the composed ones without "backbone."
    flat_state, comp_state = flat.state_dict(), composed.state_dict()
    assert [k.removeprefix("backbone.") for k in comp_state] == list(flat_state)
    assert all(torch.equal(flat_state[k.removeprefix("backbone.")], v) for k, v in comp_state.items())
    assert [k for k in flat_state if k.startswith("head.")] == ["head.0.weight", "head.0.bias", "head.2.weight"]


def test_composed_network_from_a_config_matches(spec):
    cfg = {"_target_": "graph_energy.models.GraphNetwork",
           "backbone": {"_target_": "graph_energy.models.GraphTransformerBackbone", **TINY},
           "head": {"_target_": "graph_energy.models.EnergyHead"}}
    torch.manual_seed(0)
    built = build_model(cfg, spec).double().eval()
    g = random_graph(spec, [9, 5], 9, seed=2)
    assert torch.equal(built(g), network(spec, EnergyHead)(g))


def test_backbone_features(spec):
    torch.manual_seed(0)
    bb = GraphTransformerBackbone(spec, **TINY).double()
    g = random_graph(spec, [9, 4], 9, seed=3)
    f = bb(g)
    assert bb.dims == FeatureDims(16, 8, 8)
    assert f.x.shape == (2, 9, 16) and f.e.shape == (2, 9, 9, 8) and f.y.shape == (2, 8)
    assert torch.equal(f.node_mask, g.node_mask) and torch.equal(f.pair_mask, g.pair_mask)
    assert f.x.dtype == torch.float64 and torch.isfinite(f.e).all()


@pytest.mark.parametrize("num_targets", [1, 3])
def test_regression_head_invariant_and_padding_blind(spec, num_targets):
    model = network(spec, lambda **kw: RegressionHead(**kw, num_targets=num_targets))
    g = random_graph(spec, [9, 5, 7, 3], 9, seed=4)
    out = model(g)
    assert out.shape == (4, num_targets) and out.dtype == torch.float64
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model(permute(g, perm)), out, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model(pad(g, 3)), out, rtol=1e-10, atol=1e-12)
    single = torch.cat([model(g.index(slice(i, i + 1))) for i in range(4)])
    torch.testing.assert_close(single, out, rtol=1e-10, atol=1e-12)
    assert (out[0] - out[1]).abs().max() > 1e-6  # depends on the graph


def test_regression_head_bias_and_options(spec):
    head = RegressionHead(FeatureDims(16, 8, 8), spec, num_targets=2, hidden=5)
    assert head.mlp[0].out_features == 5 and head.mlp[-1].bias is not None  # property targets have offsets
    with pytest.raises(ValueError, match="num_targets"):
        RegressionHead(FeatureDims(16, 8, 8), spec, num_targets=0)


def test_class_head_equivariant_symmetric_masked(spec):
    model = network(spec, ClassHead)
    g = random_graph(spec, [9, 5, 1], 9, seed=5)
    out = model(g)
    assert isinstance(out, ClassLogits)
    assert out.x.shape == (3, 9, spec.num_atom_types) and out.e.shape == (3, 9, 9, spec.num_bond_types)
    torch.testing.assert_close(out.e, out.e.transpose(1, 2), rtol=0, atol=0)
    assert torch.diagonal(out.e, dim1=1, dim2=2).abs().max() == 0
    assert out.x[1, 5:].abs().max() == 0 and out.e[1, 5:].abs().max() == 0 and out.e[1, :, 5:].abs().max() == 0
    assert out.e[2].abs().max() == 0 and out.x[2, 0].abs().max() > 0  # one node: no pairs
    assert out.e[0].abs().max() > 0
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(2))
    p = model(permute(g, perm))
    torch.testing.assert_close(p.x, out.x[:, perm], rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(p.e, out.e[:, perm][:, :, perm], rtol=1e-9, atol=1e-11)
    padded = model(pad(g, 2))
    torch.testing.assert_close(padded.x[:, :9], out.x, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(padded.e[:, :9, :9], out.e, rtol=1e-9, atol=1e-11)
    assert padded.x[:, 9:].abs().max() == 0 and padded.e[:, 9:].abs().max() == 0


def test_class_head_logits_are_trainable(spec):
    model = network(spec, lambda **kw: ClassHead(**kw, hidden_x=12, hidden_e=6)).train()
    g = random_graph(spec, [9, 5], 9, seed=6)
    out = model(g)
    lab = g.to_labels()
    loss = F.cross_entropy(out.x[g.node_mask], lab.x[g.node_mask]) + F.cross_entropy(out.e[g.pair_mask],
                                                                                      lab.e[g.pair_mask])
    loss.backward()
    assert model.head.node[0].out_features == 12 and model.head.node[0].weight.grad.abs().max() > 0
    assert model.head.edge[0].weight.grad.abs().max() > 0 and model.backbone.in_e[0].weight.grad.abs().max() > 0


def test_heads_run_in_input_precision_under_autocast(spec):
    model = network(spec, lambda **kw: RegressionHead(**kw, num_targets=2), autocast="bf16").float()
    g = random_graph(spec, [9, 5], 9, seed=7, dtype=torch.float32)
    f = model.backbone(g)
    assert f.x.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):  # a caller's autocast does not reach the head either
        out = model(g)
    assert out.dtype == torch.float32


def test_head_arguments_are_checked(spec):
    bb = GraphTransformerBackbone(spec, **TINY)
    with pytest.raises(ValueError, match="built for"):
        GraphNetwork(spec, bb, EnergyHead(FeatureDims(4, 4, 4), spec))
    with pytest.raises(TypeError, match="head"):
        GraphNetwork(spec, bb, 3)
    with pytest.raises(TypeError, match="FeatureDims"):
        EnergyHead((16, 8, 8), spec)
    with pytest.raises(TypeError, match="backbone"):
        GraphNetwork(spec, torch.nn.Linear(2, 2), EnergyHead)
