import itertools

import pytest
import torch
import torch.nn.functional as F
from model_helpers import random_graph

from graph_energy.chem.convert import graphs_to_labels, smiles_to_graph
from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec
from graph_energy.models.features import StructuralFeatures, cycle_counts

AROM = MolecularSpec("arom", ("C", "N", "O", "N+", "O-"), ("none", "single", "double", "triple", "aromatic"),
                     max_nodes=12, kekulize=False)
KEKU = MolecularSpec("keku", ("C", "N", "O", "N+", "O-"), ("none", "single", "double", "triple"),
                     max_nodes=12, kekulize=True)


def dense_of(smiles: list[str], spec: MolecularSpec) -> DenseGraph:
    labels = graphs_to_labels([smiles_to_graph(s, spec) for s in smiles])
    return labels.to_onehot(spec.num_atom_types, spec.num_bond_types, dtype=torch.float64)


def brute_cycles(adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Count simple cycles of length 3..6 by enumerating vertex sequences (tiny graphs only)."""
    n = adj.shape[0]
    node, glob = torch.zeros(n, 3, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    for k in range(3, 7):
        for seq in itertools.permutations(range(n), k):
            if seq[0] != min(seq) or seq[1] > seq[-1]:  # one representative per cycle
                continue
            if all(adj[seq[i], seq[(i + 1) % k]] for i in range(k)):
                glob[k - 3] += 1
                if k <= 5:
                    node[list(seq), k - 3] += 1
    return node, glob


def test_cycle_counts_match_enumeration():
    gen = torch.Generator().manual_seed(0)
    for trial in range(12):
        n = 7
        up = (torch.rand(n, n, generator=gen) < 0.2 + 0.04 * trial).triu(1)
        adj = (up | up.T).double()
        node, glob = cycle_counts(adj[None])
        ref_node, ref_glob = brute_cycles(adj)
        torch.testing.assert_close(node[0], ref_node)
        torch.testing.assert_close(glob[0], ref_glob)


@pytest.mark.parametrize("spec", [AROM, KEKU], ids=["aromatic", "kekule"])
def test_benzene_ring(spec):
    f = StructuralFeatures(spec, rw_steps=4, cycles=True, valency=True)
    g = dense_of(["c1ccccc1"], spec)
    _, glob = cycle_counts((g.e.argmax(-1) > 0).double())
    assert glob[0].tolist() == [0.0, 0.0, 0.0, 1.0]
    feats = f(g)
    valence, remaining = feats.node[0, :, -3] * 4, feats.node[0, :, -2] * 4
    torch.testing.assert_close(valence, torch.full((6,), 3.0, dtype=torch.float64))  # 1.5+1.5 or 1+2
    torch.testing.assert_close(remaining, torch.ones(6, dtype=torch.float64))  # one implicit H


def test_nitro_group_valence_and_charges():
    spec = KEKU
    f = StructuralFeatures(spec, rw_steps=2)
    g = dense_of(["C[N+](=O)[O-]"], spec)
    feats = f(g)
    lab = g.to_labels().x[0]
    valence, remaining, charge = (feats.node[0, :, -3] * 4, feats.node[0, :, -2] * 4, feats.node[0, :, -1])
    names = [spec.atom_types[i] for i in lab.tolist()]
    by = {n: i for i, n in enumerate(names)}
    assert valence[by["N+"]] == 4 and remaining[by["N+"]] == 0 and charge[by["N+"]] == 1
    assert valence[by["O-"]] == 1 and remaining[by["O-"]] == 0 and charge[by["O-"]] == -1
    assert valence[by["O"]] == 2 and remaining[by["O"]] == 0 and charge[by["O"]] == 0
    assert valence[by["C"]] == 1 and remaining[by["C"]] == 3


def test_features_masked_and_padding_invariant(spec):
    f = StructuralFeatures(spec, rw_steps=5, rw_pairs=True)
    g = random_graph(spec, [9, 4, 1], 9, seed=3)
    padded = DenseGraph(F.pad(g.x, (0, 0, 0, 3)), F.pad(g.e, (0, 0, 0, 3, 0, 3)), F.pad(g.node_mask, (0, 3)))
    a, b = f(g), f(padded)
    torch.testing.assert_close(a.node, b.node[:, :9])
    torch.testing.assert_close(a.pair, b.pair[:, :9, :9])
    torch.testing.assert_close(a.glob, b.glob)
    assert b.node[:, 9:].abs().max() == 0 and b.pair[:, 9:].abs().max() == 0
    assert a.node[1, 4:].abs().max() == 0 and a.pair[1, 4:].abs().max() == 0
    assert a.node.shape[-1] == f.node_dim and a.pair.shape[-1] == f.pair_dim and a.glob.shape[-1] == f.glob_dim


def test_features_are_detached_and_use_argmax(spec):
    f = StructuralFeatures(spec, rw_steps=3)
    g = random_graph(spec, [6], 6, seed=4)
    x = g.x.clone().requires_grad_(True)
    noisy = DenseGraph(0.9 * x + 0.01, g.e * 0.8 + 0.02 * g.pair_mask[..., None], g.node_mask)
    out = f(noisy)
    assert not out.node.requires_grad
    torch.testing.assert_close(out.node, f(g).node)


def test_random_walk_return_probabilities_of_a_ring():
    g = dense_of(["C1CCCCC1"], KEKU)
    f = StructuralFeatures(KEKU, rw_steps=4, cycles=False, valency=False)
    rw = f(g).node[0]  # diag P^2, P^3, P^4 on a 6-ring: 1/2, 0, 3/8
    torch.testing.assert_close(rw, torch.tensor([[0.5, 0.0, 0.375]], dtype=torch.float64).expand(6, 3))
