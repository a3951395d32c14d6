import pytest
import torch

from graph_energy.noise import MarginalNoise, UniformNoise
from graph_energy.paths import MixturePath


def _pair(B=64, n=8, seed=0):
    counts = torch.randint(2, n + 1, (B,), generator=torch.Generator().manual_seed(seed))
    x0 = UniformNoise(4, 3).sample(counts, torch.Generator().manual_seed(seed + 1), max_nodes=n)
    x1 = MarginalNoise([1, 0, 0, 0], [0, 1, 0]).sample(counts, torch.Generator().manual_seed(seed + 2), max_nodes=n)
    return x0, x1


def test_endpoints_and_target():
    x0, x1 = _pair()
    path = MixturePath()
    s0 = path.sample(x0, x1, t=torch.zeros(64))
    s1 = path.sample(x0, x1, t=torch.ones(64))
    assert torch.equal(s0.x_t.x, x0.x) and torch.equal(s0.x_t.e, x0.e)
    assert torch.equal(s1.x_t.x, x1.x) and torch.equal(s1.x_t.e, x1.e)
    assert torch.equal(s0.u_x, x1.x - x0.x) and torch.equal(s0.u_e, x1.e - x0.e)
    s = path.sample(x0, x1, torch.Generator().manual_seed(0))
    s.x_t.validate()
    assert ((s.t >= 0) & (s.t <= 1)).all()


@pytest.mark.parametrize("tau", [0.2, 0.7])
def test_marginals_match_tau(tau):
    x0, x1 = _pair(B=300, n=9)
    s = MixturePath().sample(x0, x1, torch.Generator().manual_seed(5), t=torch.full((300,), tau))
    # x1 is all class 0 nodes / class 1 edges; x0 has them w.p. 1/4, 1/3
    frac_x = s.x_t.x[s.x_t.node_mask][:, 0].mean()
    upper = torch.triu(s.x_t.pair_mask, 1)
    frac_e = s.x_t.e[upper][:, 1].mean()
    assert abs(frac_x - (tau + (1 - tau) / 4)) < 0.03
    assert abs(frac_e - (tau + (1 - tau) / 3)) < 0.03


def test_rejects_mismatched_masks():
    x0, x1 = _pair(seed=1)
    y0, _ = _pair(seed=7)
    with pytest.raises(ValueError, match="node masks"):
        MixturePath().sample(y0, x1)
