import pytest
import torch
import torch.nn.functional as F
from model_helpers import TINY, random_graph

from graph_energy.data.dense import DenseGraph
from graph_energy.models import GraphTransformerEnergy, energy_and_grad


@pytest.fixture(scope="module")
def model(spec):
    torch.manual_seed(0)
    return GraphTransformerEnergy(spec, **TINY).double().eval()


def permute(graph: DenseGraph, perm: torch.Tensor) -> DenseGraph:
    return DenseGraph(graph.x[:, perm], graph.e[:, perm][:, :, perm], graph.node_mask[:, perm])


def test_energy_shape_and_dtype(model, spec):
    g = random_graph(spec, [9, 5, 1, 12], 12)
    energy = model(g)
    assert energy.shape == (4,) and energy.dtype == torch.float64 and torch.isfinite(energy).all()


def test_permutation_invariance_and_gradient_equivariance(model, spec):
    g = random_graph(spec, [9, 5, 7, 12], 12, seed=1)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(3))  # moves padding around too
    a, b = energy_and_grad(model, g), energy_and_grad(model, permute(g, perm))
    rel = (a.energy - b.energy).abs().max() / a.energy.abs().max().clamp_min(1.0)
    assert rel < 1e-5
    torch.testing.assert_close(b.grad_x, a.grad_x[:, perm], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(b.grad_e, a.grad_e[:, perm][:, :, perm], rtol=1e-8, atol=1e-10)


def test_padding_invariance(model, spec):
    g = random_graph(spec, [9, 5, 1, 8], 9, seed=2)
    padded = DenseGraph(F.pad(g.x, (0, 0, 0, 3)), F.pad(g.e, (0, 0, 0, 3, 0, 3)), F.pad(g.node_mask, (0, 3)))
    a, b = energy_and_grad(model, g), energy_and_grad(model, padded)
    torch.testing.assert_close(a.energy, b.energy, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(a.grad_x, b.grad_x[:, :9], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(a.grad_e, b.grad_e[:, :9, :9], rtol=1e-9, atol=1e-12)
    assert b.grad_x[:, 9:].abs().max() == 0 and b.grad_e[:, 9:].abs().max() == 0


def test_batch_members_independent(model, spec):
    g = random_graph(spec, [9, 5, 7], 9, seed=4)
    full = model(g)
    single = torch.cat([model(g.index(slice(i, i + 1))) for i in range(3)])
    torch.testing.assert_close(full, single, rtol=1e-10, atol=1e-12)


def test_gradient_matches_finite_differences(model, spec):
    g = random_graph(spec, [9, 6], 9, seed=5)
    ev = energy_and_grad(model, g)
    gen = torch.Generator().manual_seed(0)
    h = 1e-6  # far below the one-hot gap: the detached argmax (features) does not change
    for _ in range(3):
        dx = torch.randn(g.x.shape, generator=gen, dtype=g.x.dtype) * g.node_mask[..., None]
        de = torch.randn(g.e.shape, generator=gen, dtype=g.e.dtype)
        de = (de + de.transpose(1, 2)) * g.pair_mask[..., None]
        plus = model(DenseGraph(g.x + h * dx, g.e + h * de, g.node_mask))
        minus = model(DenseGraph(g.x - h * dx, g.e - h * de, g.node_mask))
        fd = (plus - minus) / (2 * h)
        analytic = (ev.grad_x * dx).sum((1, 2)) + (ev.grad_e * de).sum((1, 2, 3))
        torch.testing.assert_close(analytic, fd, rtol=1e-6, atol=1e-8)


def test_edge_gradient_symmetric_and_masked(model, spec):
    g = random_graph(spec, [9, 4], 9, seed=6)
    ev = energy_and_grad(model, g)
    torch.testing.assert_close(ev.grad_e, ev.grad_e.transpose(1, 2))
    assert torch.diagonal(ev.grad_e, dim1=1, dim2=2).abs().max() == 0
    assert ev.grad_e[1, 4:].abs().max() == 0 and ev.grad_x[1, 4:].abs().max() == 0
    assert ev.grad_e[0].abs().max() > 0


def test_energy_and_grad_under_no_grad(model, spec):
    g = random_graph(spec, [5, 7], 9, seed=7)
    with torch.no_grad():
        ev = energy_and_grad(model, g)
    assert not ev.energy.requires_grad and ev.grad_x.abs().sum() > 0


def test_second_order_gradients_reach_every_parameter(spec):
    torch.manual_seed(1)
    model = GraphTransformerEnergy(spec, **TINY).double().train()
    g = random_graph(spec, [9, 5, 7], 9, seed=8)
    ev = energy_and_grad(model, g, create_graph=True)
    target_x, target_e = torch.randn_like(ev.grad_x), torch.randn_like(ev.grad_e)
    loss = F.huber_loss(-ev.grad_x.clamp(-10, 10), target_x) + F.huber_loss(-ev.grad_e.clamp(-10, 10), target_e)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no second-order gradient for {missing}"
    zero = [n for n, p in model.named_parameters() if p.grad.abs().max() == 0]
    assert len(zero) == 0, f"zero second-order gradient for {zero}"


def test_checkpointed_layers_match(spec):
    torch.manual_seed(2)
    ref = GraphTransformerEnergy(spec, **TINY).double()
    light = GraphTransformerEnergy(spec, **TINY, checkpoint_layers=True).double()
    light.load_state_dict(ref.state_dict())
    g = random_graph(spec, [9, 5], 9, seed=9)
    grads = []
    for m in (ref, light):
        ev = energy_and_grad(m, g, create_graph=True)
        (ev.grad_x.square().sum() + ev.grad_e.square().sum()).backward()
        grads.append((ev.energy.detach(), [p.grad.clone() for p in m.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b)


def test_bad_arguments(spec):
    with pytest.raises(ValueError, match="n_heads"):
        GraphTransformerEnergy(spec, **{**TINY, "hidden_x": 15})
    with pytest.raises(ValueError, match="autocast"):
        GraphTransformerEnergy(spec, **TINY, autocast="fp8")
    model = GraphTransformerEnergy(spec, **TINY)
    g = random_graph(spec, [3], 4, dtype=torch.float32)
    with pytest.raises(ValueError, match="atom"):
        model(DenseGraph(g.x[..., :3], g.e, g.node_mask))


def test_bf16_autocast_close_to_fp32(spec):
    torch.manual_seed(3)
    ref = GraphTransformerEnergy(spec, **TINY)
    fast = GraphTransformerEnergy(spec, **TINY, autocast="bf16")
    fast.load_state_dict(ref.state_dict())
    g = random_graph(spec, [9, 5, 7], 9, seed=10, dtype=torch.float32)
    a, b = energy_and_grad(ref, g), energy_and_grad(fast, g)
    assert b.energy.dtype == torch.float32 and b.grad_x.dtype == torch.float32
    scale = a.energy.abs().max().clamp_min(1.0)
    assert (a.energy - b.energy).abs().max() / scale < 5e-2
    cos = F.cosine_similarity(a.grad_e.flatten(), b.grad_e.flatten(), dim=0)
    assert cos > 0.98


@pytest.mark.slow
def test_compiled_forward_matches_eager(spec):
    """``compile=True`` (eval mode) gives the same energies and gradients as eager execution."""
    torch.manual_seed(4)
    eager = GraphTransformerEnergy(spec, **TINY).eval()
    compiled = GraphTransformerEnergy(spec, **TINY, compile=True).eval()
    compiled.load_state_dict(eager.state_dict())
    for sizes, n in (([9, 5, 12], 12), ([3, 7], 9)):
        g = random_graph(spec, sizes, n, seed=11, dtype=torch.float32)
        a, b = energy_and_grad(eager, g), energy_and_grad(compiled, g)
        torch.testing.assert_close(b.energy, a.energy, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(b.grad_x, a.grad_x, rtol=1e-3, atol=1e-5)
        torch.testing.assert_close(b.grad_e, a.grad_e, rtol=1e-3, atol=1e-5)
