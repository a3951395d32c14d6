"""DenseGraph conventions: validate() catches each broken one; labels <-> one-hot <-> PyG round trips."""

import pytest
import torch
from torch_geometric.data import Batch

from graph_energy.data import DenseGraph, GraphLabels


def random_labels(B=4, N=6, dx=5, de=4, seed=0) -> GraphLabels:
    g = torch.Generator().manual_seed(seed)
    n = torch.randint(1, N + 1, (B,), generator=g)
    n[0] = N
    mask = torch.arange(N)[None] < n[:, None]
    x = torch.randint(0, dx, (B, N), generator=g) * mask
    e = torch.randint(0, de, (B, N, N), generator=g).triu(1)
    e = (e + e.transpose(1, 2)) * (mask[:, :, None] & mask[:, None, :])
    return GraphLabels(x, e, mask)


def test_onehot_round_trip_and_validate():
    lab = random_labels()
    dense = lab.to_onehot(5, 4).validate()
    back = dense.to_labels()
    assert torch.equal(back.x, lab.x) and torch.equal(back.e, lab.e) and torch.equal(back.node_mask, lab.node_mask)
    assert dense.pair_mask.sum() == sum(int(k) * (int(k) - 1) for k in lab.num_nodes)


def broken(kind):
    d = random_labels().to_onehot(5, 4)
    x, e, m = d.x.clone(), d.e.clone(), d.node_mask.clone()
    pad = (~m).nonzero()[0]
    if kind == "asymmetric":
        e[0, 0, 1] = torch.tensor([0.0, 0.0, 1.0, 0.0]) if e[0, 0, 1, 2] == 0 else torch.tensor([0.0, 1.0, 0.0, 0.0])
    elif kind == "diagonal":
        e[0, 2, 2, 1] = 1.0
    elif kind == "padded node":
        x[pad[0], pad[1], 0] = 1.0
    elif kind == "padded pair":
        e[pad[0], 0, pad[1], 1] = e[pad[0], pad[1], 0, 1] = 1.0
    elif kind == "not one-hot x":
        x[0, 0] = 0.5
    elif kind == "empty edge row":
        e[0, 0, 1] = 0.0
        e[0, 1, 0] = 0.0
    elif kind == "mask dtype":
        m = m.float()
    elif kind == "shape":
        e = e[:, :-1]
    return DenseGraph(x, e, m)


@pytest.mark.parametrize("kind,msg", [
    ("asymmetric", "symmetric"), ("diagonal", "diagonal"), ("padded node", "padding nodes"),
    ("padded pair", "padding"), ("not one-hot x", "one-hot"), ("empty edge row", "one-hot"),
    ("mask dtype", "bool"), ("shape", "shape"),
])
def test_validate_catches(kind, msg):
    with pytest.raises(ValueError, match=msg):
        broken(kind).validate()


def test_pyg_dense_round_trip():
    dense = random_labels(B=5, seed=3).to_onehot(5, 4)
    data = dense.to_pyg_list()
    for d in data:  # both directions stored, no class-0 edges
        assert (d.edge_attr >= 1).all()
        assert d.edge_index.shape[1] % 2 == 0
    batch = Batch.from_data_list(data)
    back = DenseGraph.from_pyg(batch, 5, 4, max_nodes=dense.max_nodes).validate()
    assert torch.equal(back.x, dense.x) and torch.equal(back.e, dense.e)
    assert torch.equal(back.node_mask, dense.node_mask)


def test_cat_and_index_keep_conventions():
    a = random_labels(B=2, N=4, seed=1).to_onehot(5, 4)
    b = random_labels(B=3, N=7, seed=2).to_onehot(5, 4)
    c = DenseGraph.cat([a, b]).validate()
    assert c.batch_size == 5 and c.max_nodes == 7
    assert torch.equal(c.index(slice(2, 5)).x, b.x)
