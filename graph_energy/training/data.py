"""Deterministic, resumable, rank-sharded batches of dense graphs.

Every batch is a pure function of ``(seed, step, micro-batch index)``: the epoch permutation comes
from ``(seed, epoch)`` and each optimisation step consumes a contiguous block of
``micro_batch_size * accum_steps * world_size`` indices of it. Rank ``r`` takes micro-batches
``r * accum_steps + k``. A resumed run therefore sees exactly the batches it would have seen, and a
run on ``W`` ranks sees the same global batch as one process with ``W`` times the accumulation.
"""

from __future__ import annotations

import numpy as np
import torch

from graph_energy.data.dense import DenseGraph

__all__ = ["derive_seed", "make_generator", "ShardedBatches", "densify"]


def derive_seed(*keys: int) -> int:
    """A 63-bit seed mixed from integer keys (stable across platforms and processes)."""
    return int(np.random.SeedSequence([int(k) & 0xFFFFFFFFFFFF for k in keys]).generate_state(1, np.uint64)[0] >> 1)


def make_generator(*keys: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from :func:`derive_seed`."""
    return torch.Generator().manual_seed(derive_seed(*keys))


def densify(dataset, idx: torch.Tensor, num_node_classes: int, num_edge_classes: int,
            max_nodes: int | None = None) -> DenseGraph:
    """Dense batch of items ``idx (B,)`` of a PyG dataset, padded to ``max_nodes`` or the batch maximum.

    Uses the dataset's own ``dense(idx, max_nodes)`` fast path when it has one, else PyG collation and
    :meth:`DenseGraph.from_pyg`.
    """
    if hasattr(dataset, "dense"):
        return dataset.dense(idx, max_nodes=max_nodes)
    from torch_geometric.data import Batch

    batch = Batch.from_data_list([dataset[int(i)] for i in idx.tolist()])
    return DenseGraph.from_pyg(batch, num_node_classes, num_edge_classes, max_nodes=max_nodes)


class ShardedBatches:
    """Micro-batches of a dataset for one rank.

    Args:
        dataset: indexable PyG dataset (``len`` and ``[i]``), items as in the dataset convention.
        micro_batch_size: graphs per micro-batch on this rank.
        accum_steps: micro-batches per optimisation step.
        world_size, rank: data-parallel layout.
        seed: run seed.
        num_node_classes, num_edge_classes: one-hot widths.
        max_nodes: pad every batch to this size (None: the batch maximum).
    """

    def __init__(self, dataset, micro_batch_size: int, accum_steps: int = 1, world_size: int = 1, rank: int = 0,
                 seed: int = 0, num_node_classes: int = 1, num_edge_classes: int = 1,
                 max_nodes: int | None = None) -> None:
        if micro_batch_size < 1 or accum_steps < 1:
            raise ValueError(f"batch_size and accum_steps must be >= 1, got {micro_batch_size}, {accum_steps}")
        self.dataset = dataset
        self.micro = int(micro_batch_size)
        self.accum = int(accum_steps)
        self.world = int(world_size)
        self.rank = int(rank)
        self.seed = int(seed)
        self.dx, self.de = num_node_classes, num_edge_classes
        self.max_nodes = max_nodes
        self.global_batch = self.micro * self.accum * self.world
        if len(dataset) < self.global_batch:
            raise ValueError(f"the training set has {len(dataset)} graphs, fewer than one global batch "
                             f"({self.micro} x {self.accum} accumulation x {self.world} ranks); lower train.batch_size")
        self.steps_per_epoch = len(dataset) // self.global_batch
        self._perm_epoch = -1
        self._perm = None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            self._perm = torch.randperm(len(self.dataset), generator=make_generator(self.seed, 1, epoch))
            self._perm_epoch = epoch
        return self._perm

    def indices(self, step: int, k: int) -> torch.Tensor:
        """Dataset indices ``(micro_batch_size,)`` of micro-batch ``k`` of optimisation step ``step``."""
        epoch, pos = divmod(int(step), self.steps_per_epoch)
        start = pos * self.global_batch + (self.rank * self.accum + k) * self.micro
        return self._permutation(epoch)[start:start + self.micro]

    def micro_batch(self, step: int, k: int) -> DenseGraph:
        return densify(self.dataset, self.indices(step, k), self.dx, self.de, self.max_nodes)

    def epoch_of(self, step: int) -> int:
        return int(step) // self.steps_per_epoch

    def state_dict(self) -> dict:
        return {"seed": self.seed, "global_batch": self.global_batch, "steps_per_epoch": self.steps_per_epoch,
                "num_graphs": len(self.dataset)}
