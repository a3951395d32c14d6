import torch
import torch.nn.functional as F

from graph_energy.data import DenseGraph
from graph_energy.losses import TransportLoss
from graph_energy.noise import MarginalNoise, UniformNoise
from graph_energy.paths import MixturePath, PathSample


class ToyEnergy(torch.nn.Module):
    def __init__(self, dx, de, h=8):
        super().__init__()
        self.node = torch.nn.Linear(dx, h)
        self.edge = torch.nn.Linear(de, h)
        self.out = torch.nn.Linear(h, 1)

    def forward(self, g: DenseGraph):
        hn = torch.tanh(self.node(g.x)) * g.node_mask[..., None]
        he = torch.tanh(self.edge(g.e)) * g.pair_mask[..., None]
        pooled = hn.sum(1) + (he * hn[:, :, None] * hn[:, None]).sum((1, 2))
        return self.out(torch.tanh(pooled)).squeeze(-1)


def _pad(g, n):
    return DenseGraph.cat([g, DenseGraph(torch.zeros(0, n, g.x.shape[-1]), torch.zeros(0, n, n, g.e.shape[-1]),
                                         torch.zeros(0, n, dtype=torch.bool))])


def _path(B=8, N=6, seed=0, pad_to=None):
    counts = torch.randint(1, N + 1, (B,), generator=torch.Generator().manual_seed(seed))
    x0 = UniformNoise(4, 3).sample(counts, torch.Generator().manual_seed(seed + 1), max_nodes=N)
    x1 = MarginalNoise([3, 1, 1, 1], [5, 2, 1]).sample(counts, torch.Generator().manual_seed(seed + 2), max_nodes=N)
    p = MixturePath().sample(x0, x1, torch.Generator().manual_seed(seed + 3))
    if pad_to:  # the same graphs with extra padding
        k = pad_to - N
        p = PathSample(p.t, _pad(p.x_t, pad_to), F.pad(p.u_x, (0, 0, 0, k)), F.pad(p.u_e, (0, 0, 0, k, 0, k)),
                       _pad(p.x_0, pad_to), _pad(p.x_1, pad_to))
    return p


class LinearTarget:
    """E = -<u_x, X> - <u_e, E>: its (symmetrised) gradient is exactly -u."""

    def __init__(self, u_x, u_e):
        self.u_x, self.u_e = u_x, u_e

    def __call__(self, g):
        return -(self.u_x * g.x).sum((1, 2)) - (self.u_e * g.e).sum((1, 2, 3))


def test_zero_when_minus_grad_equals_u():
    p = _path()
    out = TransportLoss()(LinearTarget(p.u_x, p.u_e), p)
    assert out.loss.abs().item() < 1e-7
    bad = TransportLoss()(LinearTarget(-p.u_x, -p.u_e), p)
    assert bad.loss.item() > 0.1


def test_matches_reference_formula():
    p = _path(seed=4)
    model = ToyEnergy(4, 3)
    out = TransportLoss()(model, p)
    x = p.x_t.x.detach().requires_grad_(True)
    e = p.x_t.e.detach().requires_grad_(True)
    gx, ge = torch.autograd.grad(model(DenseGraph(x, e, p.x_t.node_mask)).sum(), (x, e))
    ge = 0.5 * (ge + ge.transpose(1, 2))
    lx, le = [], []
    for b in range(p.x_t.batch_size):
        n = int(p.x_t.node_mask[b].sum())
        lx.append(F.huber_loss(-gx[b, :n].clamp(-10, 10), p.u_x[b, :n]))
        iu = torch.triu_indices(n, n, 1)
        if iu.shape[1]:
            le.append(F.huber_loss(-ge[b, iu[0], iu[1]].clamp(-10, 10), p.u_e[b, iu[0], iu[1]]))
    ref = torch.stack(lx).mean() + torch.stack(le).mean()
    assert torch.allclose(out.loss, ref, atol=1e-6)


def test_padding_does_not_change_loss_and_grads_reach_params():
    model = ToyEnergy(4, 3)
    a = TransportLoss()(model, _path(seed=2))
    b = TransportLoss()(model, _path(seed=2, pad_to=11))
    assert torch.allclose(a.loss, b.loss, atol=1e-6)
    a.loss.backward()
    # every parameter except the energy offset (which has no input gradient) receives a gradient
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for name, p in model.named_parameters() if name != "out.bias")
    assert set(a.scalars()) >= {"loss", "loss_x", "loss_e"}
