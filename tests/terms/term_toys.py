"""A tiny molecular vocabulary whose every labelled 3-node graph decodes to a valid molecule."""

from __future__ import annotations

import torch

from graph_energy.chem.convert import graphs_to_labels, smiles_to_graph
from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec

#: atoms C, N; bonds none / single: 2^3 node labellings x 2^3 bond patterns = 64 states, all valid molecules.
TOY_SPEC = MolecularSpec("toy", ("C", "N"), ("none", "single"), max_nodes=3)
DX, DE, N = 2, 2, 3

QM9_LIKE = MolecularSpec("qm9like", ("C", "N", "O", "F"), ("none", "single", "double", "triple"), max_nodes=9)


def encode(smiles: list[str], spec: MolecularSpec = QM9_LIKE, dtype=torch.float32) -> DenseGraph:
    """Dense one-hot batch of SMILES under ``spec``."""
    lab = graphs_to_labels([smiles_to_graph(s, spec) for s in smiles])
    return DenseGraph.from_labels(lab.x, lab.e, lab.node_mask, spec.num_atom_types, spec.num_bond_types, dtype)
