"""The time-conditioned flow-matching network on the GEM backbone."""

from __future__ import annotations

import pytest
import torch
from model_helpers import TINY, random_graph

from graph_energy.data.dense import DenseGraph
from graph_energy.models import build_model
from graph_energy.models.flow import FlowTransformer, model_kind, time_features
from graph_energy.models.heads import ClassLogits


def _model(spec, **kw):
    torch.manual_seed(0)
    return FlowTransformer(spec, **TINY, **kw).double().eval()


def test_time_features():
    t = torch.tensor([0.0, 0.5], dtype=torch.float64)
    f = time_features(t, 2)
    assert f.shape == (2, 5)
    assert torch.allclose(f[1], torch.tensor([0.5, 1.0, 0.0, 0.0, -1.0], dtype=torch.float64), atol=1e-12)
    assert time_features(t, 0).shape == (2, 1)


def test_logits_are_masked_symmetric_equivariant_and_depend_on_time(spec):
    model = _model(spec)
    g = random_graph(spec, [5, 3], 6)
    t = torch.tensor([0.2, 0.7], dtype=torch.float64)
    out = model(g, t)
    assert isinstance(out, ClassLogits) and model_kind(model) == "dfm"
    assert out.x.shape == (2, 6, spec.num_atom_types) and out.e.shape == (2, 6, 6, spec.num_bond_types)
    assert torch.equal(out.e, out.e.transpose(1, 2))
    assert not out.x[~g.node_mask].any() and not out.e[~g.pair_mask].any()
    perm = torch.tensor([2, 0, 4, 1, 3, 5])
    gp = DenseGraph(g.x[:, perm], g.e[:, perm][:, :, perm], g.node_mask[:, perm])
    outp = model(gp, t)
    assert torch.allclose(outp.x, out.x[:, perm], atol=1e-10)
    assert torch.allclose(outp.e, out.e[:, perm][:, :, perm], atol=1e-10)
    other = model(g, torch.tensor([0.9, 0.1], dtype=torch.float64))
    assert not torch.allclose(other.x[g.node_mask], out.x[g.node_mask])
    # a scalar time means the same time for every graph
    assert torch.allclose(model(g, torch.tensor(0.2, dtype=torch.float64)).x[0], out.x[0])


def test_needs_the_time_and_one_time_per_graph(spec):
    model = _model(spec)
    g = random_graph(spec, [3, 2], 4)
    with pytest.raises(TypeError):
        model(g)
    with pytest.raises(ValueError, match="one time per graph"):
        model(g, torch.zeros(3, dtype=torch.float64))


def test_built_from_a_model_preset_config(spec):
    """The qm9_dfm experiment's model node: a preset's flat backbone arguments, target and head replaced."""
    cfg = {"_target_": "graph_energy.models.flow.FlowTransformer", **TINY, "time_frequencies": 3,
           "head": {"_target_": "graph_energy.models.heads.ClassHead", "_partial_": True}}
    model = build_model(cfg, spec)
    assert isinstance(model, FlowTransformer) and model.time_frequencies == 3
    assert model.in_y[0].in_features == model.features.glob_dim + 7
    names = {k.split(".")[0] for k in model.state_dict()}
    assert {"in_x", "in_e", "in_y", "layers", "head"} <= names
