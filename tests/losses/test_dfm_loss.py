"""The discrete flow-matching loss and objective against hand computations on a tiny batch."""

from __future__ import annotations

import math

import pytest
import torch

from graph_energy.data.dense import DenseGraph
from graph_energy.losses.dfm import DFMLoss
from graph_energy.models.heads import ClassLogits
from graph_energy.noise import CategoricalNoise
from graph_energy.paths.distortion import DISTORTIONS, distort
from graph_energy.paths.mixture import MixturePath
from graph_energy.training.dfm import DFMObjective


def _batch() -> DenseGraph:
    """Graph 0: 3 nodes (classes 1, 0, 2), bonds 0-1 (class 1) and 1-2 (class 2); graph 1: 2 nodes (0, 1),
    no bond, one padding node."""
    x = torch.tensor([[1, 0, 2], [0, 1, 0]])
    e = torch.zeros(2, 3, 3, dtype=torch.long)
    e[0, 0, 1] = e[0, 1, 0] = 1
    e[0, 1, 2] = e[0, 2, 1] = 2
    mask = torch.tensor([[True, True, True], [True, True, False]])
    return DenseGraph.from_labels(x, e, mask, 3, 3)


def _ce(logits: list[float], k: int) -> float:
    return -logits[k] + math.log(sum(math.exp(v) for v in logits))


def test_dfm_loss_equals_the_hand_computation():
    g = _batch()
    torch.manual_seed(0)
    lx = torch.randn(2, 3, 3)
    le = torch.randn(2, 3, 3, 3)
    le = 0.5 * (le + le.transpose(1, 2))
    out = DFMLoss(edge_weight=5.0)(ClassLogits(lx, le), g)
    nodes = [(0, 0, 1), (0, 1, 0), (0, 2, 2), (1, 0, 0), (1, 1, 1)]            # (graph, node, class)
    pairs = [(0, 0, 1, 1), (0, 0, 2, 0), (0, 1, 2, 2), (1, 0, 1, 0)]           # (graph, i, j, class), i < j
    want_x = sum(_ce(lx[b, i].tolist(), c) for b, i, c in nodes) / len(nodes)
    want_e = sum(_ce(le[b, i, j].tolist(), c) for b, i, j, c in pairs) / len(pairs)
    assert out.terms["loss_x"].item() == pytest.approx(want_x, rel=1e-6)
    assert out.terms["loss_e"].item() == pytest.approx(want_e, rel=1e-6)
    assert out.loss.item() == pytest.approx(want_x + 5.0 * want_e, rel=1e-6)
    assert out.loss.requires_grad is False  # plain tensors in, no graph needed
    perfect = ClassLogits(100 * g.x, 100 * g.e)
    assert DFMLoss()(perfect, g).loss.item() < 1e-6


def test_dfm_loss_rejects_energies():
    with pytest.raises(TypeError, match="class logits"):
        DFMLoss()(torch.zeros(2), _batch())


class Recorder(torch.nn.Module):
    """Class logits from a linear map of the inputs (gradients flow); records what it was called with."""

    model_kind = "dfm"

    def __init__(self) -> None:
        super().__init__()
        self.wx, self.we = torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)
        self.seen = []

    def forward(self, graph: DenseGraph, t: torch.Tensor) -> ClassLogits:
        self.seen.append((graph, t))
        e = self.we(graph.e)
        return ClassLogits(self.wx(graph.x) + t[:, None, None], 0.5 * (e + e.transpose(1, 2)))


@pytest.mark.parametrize("distortion", ["identity", "polydec"])
def test_dfm_objective_is_the_loss_on_the_mixture_path(distortion):
    """Replaying the objective's random draws by hand (noise, u, the path's coin flips) gives the same x_t,
    t and loss; the loss differentiates into the network."""
    g = _batch()
    noise = CategoricalNoise([0.5, 0.3, 0.2], [0.6, 0.3, 0.1])
    model = Recorder()
    obj = DFMObjective(noise, DFMLoss(2.0), time_distortion=distortion)
    out = obj(model, g, torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    x_0 = noise.sample(g.num_nodes, gen, max_nodes=3)
    t = distort(torch.rand(2, generator=gen), distortion).float()
    path = MixturePath().sample(x_0, g, gen, t=t)
    seen_graph, seen_t = model.seen[-1]
    assert torch.equal(seen_graph.x, path.x_t.x) and torch.equal(seen_graph.e, path.x_t.e)
    assert torch.allclose(seen_t, t)
    want = DFMLoss(2.0)(model(path.x_t, path.t), g).loss
    assert out.loss.item() == pytest.approx(want.item(), rel=1e-6)
    out.loss.backward()
    assert model.wx.weight.grad is not None and model.wx.weight.grad.abs().sum() > 0
    assert obj.second_order is False


def test_dfm_objective_refuses_an_energy_model():
    obj = DFMObjective(CategoricalNoise([0.5, 0.5, 0.0], [1, 1, 1]))
    with pytest.raises(ValueError, match="experiment=qm9_dfm"):
        obj(torch.nn.Linear(3, 1), _batch(), torch.Generator())


@pytest.mark.parametrize("name", DISTORTIONS)
def test_distortions_are_increasing_maps_of_the_unit_interval(name):
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    f = distort(t, name)
    assert f[0].item() == 0.0 and f[-1].item() == pytest.approx(1.0)
    assert (f[1:] > f[:-1]).all()
