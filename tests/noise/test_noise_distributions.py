import pytest
import torch

from graph_energy.noise import MarginalNoise, UniformNoise


def test_uniform_shapes_masks_and_symmetry():
    noise = UniformNoise(5, 4)
    n = torch.tensor([1, 3, 7, 0])
    g = noise.sample(n, torch.Generator().manual_seed(0)).validate()
    assert g.x.shape == (4, 7, 5) and g.e.shape == (4, 7, 7, 4)
    assert torch.equal(g.num_nodes, n)
    g2 = noise.sample(n, torch.Generator().manual_seed(0), max_nodes=9).validate()
    assert g2.x.shape == (4, 9, 5)


def test_same_seed_same_bits():
    noise = UniformNoise(4, 3)
    n = torch.tensor([5, 6])
    a = noise.sample(n, torch.Generator().manual_seed(3))
    b = noise.sample(n, torch.Generator().manual_seed(3))
    assert torch.equal(a.x, b.x) and torch.equal(a.e, b.e)


@pytest.mark.parametrize("kind", ["uniform", "marginal"])
def test_class_frequencies(kind):
    node_p = torch.tensor([0.6, 0.3, 0.1])
    edge_p = torch.tensor([0.7, 0.2, 0.05, 0.05])
    noise = UniformNoise(3, 4) if kind == "uniform" else MarginalNoise(node_p, edge_p)
    g = noise.sample(torch.full((400,), 9), torch.Generator().manual_seed(1))
    fx = g.x[g.node_mask].mean(0)
    upper = torch.triu(g.pair_mask, 1)
    fe = g.e[upper].mean(0)
    ex = torch.full((3,), 1 / 3) if kind == "uniform" else node_p
    ee = torch.full((4,), 1 / 4) if kind == "uniform" else edge_p
    assert torch.allclose(fx, ex, atol=0.02) and torch.allclose(fe, ee, atol=0.02)


def test_marginal_from_data_checks_dims():
    class Spec:
        num_atom_types, num_bond_types = 3, 4

    class Stats:
        node_marginals = torch.tensor([1.0, 1.0])
        edge_marginals = torch.tensor([1.0, 1, 1, 1])

    with pytest.raises(ValueError, match="do not match"):
        MarginalNoise.from_data(Spec(), Stats())
    with pytest.raises(ValueError, match="non-negative"):
        MarginalNoise([-1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="max_nodes"):
        UniformNoise(2, 2).sample(torch.tensor([5]), max_nodes=3)
