"""Shared helpers of the model tests."""

import torch

from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec

TINY = dict(n_layers=2, hidden_x=16, hidden_e=8, hidden_y=8, n_heads=2, ff_x=32, ff_e=16, ff_y=16, rw_steps=3)


def toy_spec() -> MolecularSpec:
    return MolecularSpec("toy", ("C", "N", "O", "F", "N+", "O-"), ("none", "single", "double", "triple", "aromatic"),
                         max_nodes=12, kekulize=False)


def random_graph(spec: MolecularSpec, sizes: list[int], n_max: int, seed: int = 0, p_bond: float = 0.35,
                 dtype=torch.float64) -> DenseGraph:
    """Random graphs with the given real sizes, padded to ``n_max``; bonds sparse enough to have cycles."""
    g = torch.Generator().manual_seed(seed)
    B = len(sizes)
    x = torch.randint(0, spec.num_atom_types, (B, n_max), generator=g)
    bond = torch.rand(B, n_max, n_max, generator=g) < p_bond
    cls = torch.randint(1, spec.num_bond_types, (B, n_max, n_max), generator=g)
    up = (cls * bond).triu(1)
    e = up + up.transpose(1, 2)
    mask = torch.arange(n_max)[None] < torch.tensor(sizes)[:, None]
    return DenseGraph.from_labels(x, e, mask, spec.num_atom_types, spec.num_bond_types, dtype=dtype).validate()
