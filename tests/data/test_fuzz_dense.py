"""Fuzzing the dense-batch conversions with Hypothesis (``slow``: 10,000 batches by default;
``GEM_FUZZ_EXAMPLES=<n>`` changes it; 1-3 graphs per batch): labels -> one-hot ``DenseGraph`` -> labels, PyG lists and back,
sub-batches and concatenation, and batch decoding agree with the per-graph path, whatever the graphs."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch

from graph_energy.chem import canonical_smiles, dense_to_smiles, graph_to_mol, graphs_to_labels
from graph_energy.chem.convert import MolGraph
from graph_energy.data import DenseGraph, MolecularSpec
from graph_energy.data.spec import AROMATIC_BONDS, KEKULE_BONDS

pytestmark = pytest.mark.slow

FUZZ = int(os.environ.get("GEM_FUZZ_EXAMPLES", "10000"))
fuzz = settings(max_examples=FUZZ, deadline=None, database=None, suppress_health_check=list(HealthCheck))
SPECS = {k: MolecularSpec(name="fuzz", atom_types=("C", "N", "O", "F", "N+", "O-"),
                          bond_types=KEKULE_BONDS if k else AROMATIC_BONDS, max_nodes=9, kekulize=k)
         for k in (True, False)}


def random_batch(seed: int, spec: MolecularSpec) -> list[MolGraph]:
    """1-3 random label graphs of 1..max_nodes atoms (any classes, random bond density)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.integers(1, spec.max_nodes + 1))
        upper = np.triu((rng.random((n, n)) < rng.uniform(0.0, 0.6)) * rng.integers(1, spec.num_bond_types, (n, n)), 1)
        out.append(MolGraph(rng.integers(0, spec.num_atom_types, n).astype(np.int64), (upper + upper.T).astype(np.int64)))
    return out


@fuzz
@given(st.integers(0, 2 ** 63 - 1), st.booleans(), st.integers(0, 3))
def test_dense_batch_conversions_round_trip(seed, kekulize, extra_padding):
    spec = SPECS[kekulize]
    graphs = random_batch(seed, spec)
    n = max(g.num_nodes for g in graphs) + extra_padding
    labels = graphs_to_labels(graphs, n)
    dense = DenseGraph.from_labels(labels.x, labels.e, labels.node_mask, spec.num_atom_types,
                                   spec.num_bond_types).validate()
    back = dense.to_labels()
    assert torch.equal(back.x, labels.x) and torch.equal(back.e, labels.e) and torch.equal(back.node_mask,
                                                                                         labels.node_mask)
    assert dense.num_nodes.tolist() == [g.num_nodes for g in graphs]
    # PyG lists and back (padded to the same size)
    again = DenseGraph.from_pyg(Batch.from_data_list(dense.to_pyg_list()), spec.num_atom_types, spec.num_bond_types,
                                max_nodes=n)
    assert torch.equal(again.x, dense.x) and torch.equal(again.e, dense.e)  # (so it is valid too)
    assert torch.equal(again.node_mask, dense.node_mask)
    # sub-batches and concatenation
    k = len(graphs) // 2
    joined = DenseGraph.cat([dense.index(slice(0, k)), dense.index(slice(k, None))]) if k else dense
    assert torch.equal(joined.x, dense.x) and torch.equal(joined.e, dense.e)
    # batch decoding = per-graph decoding
    single = [graph_to_mol(g.x, g.e, spec) for g in graphs]
    assert dense_to_smiles(dense, spec) == [canonical_smiles(m) if m is not None else None for m in single]
