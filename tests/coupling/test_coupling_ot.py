import itertools

import torch

from graph_energy.coupling import IndependentCoupling, OTCoupling, graph_signature
from graph_energy.noise import MarginalNoise, UniformNoise


def _data(n, seed):
    # skewed "data" so OT has something to find
    return MarginalNoise([0.8, 0.1, 0.1], [0.8, 0.15, 0.05]).sample(n, torch.Generator().manual_seed(seed))


def test_signature_permutation_invariant():
    g = UniformNoise(3, 3).sample(torch.tensor([6, 4]), torch.Generator().manual_seed(0))
    p = torch.randperm(6, generator=torch.Generator().manual_seed(1))
    gp_x, gp_e = g.x[:, p], g.e[:, p][:, :, p]
    from graph_energy.data import DenseGraph

    gp = DenseGraph(gp_x, gp_e, g.node_mask[:, p])
    assert torch.allclose(graph_signature(g), graph_signature(gp), atol=1e-6)


def test_couplings_respect_sizes_and_ot_lowers_cost():
    n = torch.tensor([3, 5, 5, 4, 5, 3, 4, 5, 5, 3] * 4)
    x1 = _data(n, 0)
    x0 = UniformNoise(3, 3).sample(n[torch.randperm(n.numel(), generator=torch.Generator().manual_seed(2))],
                                   torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(4)
    for coupling in (IndependentCoupling(), OTCoupling()):
        perm = coupling.permutation(x0, x1, g)
        assert sorted(perm.tolist()) == list(range(n.numel()))
        assert torch.equal(x0.num_nodes[perm], x1.num_nodes)
    ind = OTCoupling.total_cost(IndependentCoupling()(x0, x1, g), x1)
    ot = OTCoupling.total_cost(OTCoupling()(x0, x1), x1)
    assert ot < ind


def test_ot_matches_brute_force():
    for seed in range(3):
        n = torch.full((6,), 4)
        x1 = _data(n, 10 + seed)
        x0 = UniformNoise(3, 3).sample(n, torch.Generator().manual_seed(20 + seed))
        ot = OTCoupling.total_cost(OTCoupling()(x0, x1), x1)
        best = min(OTCoupling.total_cost(x0.index(torch.tensor(p)), x1)
                   for p in itertools.permutations(range(6)))
        assert abs(ot - best) < 1e-5
