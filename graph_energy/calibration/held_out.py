"""Held-out data graphs for calibrating the energy switch."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from graph_energy.data.dense import DenseGraph

__all__ = ["held_out_graphs"]


def held_out_graphs(dataset_cfg: dict, spec, split: str, num_graphs: int, batch_size: int = 256,
                    seed: int = 0) -> Iterator[DenseGraph]:
    """Dense batches of ``num_graphs`` graphs drawn at random (seeded) from a split (lazily: the dataset
    is loaded when the first batch is asked for).

    A random subset, not the first graphs: stored splits may be ordered (e.g. by size), and every
    node count needs its own share of graphs.
    """
    from torch_geometric.loader import DataLoader

    from graph_energy.data import load_dataset

    data = load_dataset(dataset_cfg)
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test; got {split!r}")
    ds = getattr(data, split)
    pick = torch.randperm(len(ds), generator=torch.Generator().manual_seed(int(seed)))[: min(int(num_graphs), len(ds))]
    ds = ds[pick.sort().values]
    for batch in DataLoader(ds, batch_size=batch_size, shuffle=False):
        yield DenseGraph.from_pyg(batch, spec.num_atom_types, spec.num_bond_types)
