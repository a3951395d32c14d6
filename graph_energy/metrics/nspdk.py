"""NSPDK MMD (GDSS-family definition), reproducible regardless of ``PYTHONHASHSEED``.

Molecules are kekulized and turned into networkx graphs (node label = atom symbol, edge label =
bond order 1/2/3), vectorised with EDeN ``vectorize(complexity=4, discrete=True)`` and compared
with a linear kernel: ``MMD² = mean K_XX + mean K_YY − 2 mean K_XY``. With a linear kernel this
equals ``||mean φ(X) − mean φ(Y)||²``, which is what is computed (O(nnz) instead of O(n²)).

EDeN hashes node labels with Python's ``hash``, which is salted for strings. Labels are therefore
passed as integers (``1000 + atomic number`` for atoms, the bond order for bonds): integer hashes
are not salted, the label alphabet is in one-to-one correspondence with the symbols, and integer
labels cannot collide with each other. The result equals the string-labelled definition up to the
(rare) feature-hash collisions that make the string version itself seed dependent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from rdkit import Chem

from graph_energy.metrics._util import cached_npz, parallel_map, parse_smiles, smiles_key

__all__ = ["mol_to_nx", "nspdk_features", "nspdk_mean_embedding", "nspdk_mmd", "reference_embedding"]

log = logging.getLogger(__name__)

_ATOM_OFFSET = 1000
_CACHE_VERSION = "nspdk-eden-c4-discrete-int-labels-v1"


def mol_to_nx(mol: Chem.Mol, kekulize: bool = True):
    """networkx graph with integer node/edge ``label`` attributes (module docstring)."""
    import networkx as nx

    mol = Chem.Mol(mol)
    if kekulize:
        try:
            Chem.Kekulize(mol, clearAromaticFlags=True)
        except Exception:  # noqa: BLE001 - keep aromatic bonds (order 1.5) if kekulization fails
            pass
    g = nx.Graph()
    for atom in mol.GetAtoms():
        g.add_node(atom.GetIdx(), label=_ATOM_OFFSET + atom.GetAtomicNum())
    for bond in mol.GetBonds():
        order = bond.GetBondTypeAsDouble()
        label = int(order) if float(order).is_integer() else order
        g.add_edge(bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), label=label)
    return g


def _features_chunk(smiles: Sequence[str]):
    """Sparse EDeN features ``(len(smiles), 2**16 + 1)`` (CSR) of SMILES that must be valid."""
    from eden.graph import vectorize

    graphs = [mol_to_nx(parse_smiles(s)) for s in smiles]
    return vectorize(graphs, complexity=4, discrete=True)


def _mean_chunk(smiles: Sequence[str]) -> list[tuple[np.ndarray, int]]:
    feats = _features_chunk(smiles)
    return [(np.asarray(feats.sum(axis=0)).ravel(), feats.shape[0])]


def nspdk_features(smiles: Sequence[str]):
    """EDeN feature matrix (scipy CSR, one unit-norm row per molecule) of valid SMILES."""
    return _features_chunk(list(smiles))


def nspdk_mean_embedding(smiles: Sequence[str], n_jobs: int | None = None, progress: bool = False) -> np.ndarray:
    """Mean feature vector ``(2**16 + 1,)`` of valid SMILES (process-parallel in chunks)."""
    smiles = [s for s in smiles if s]
    if not smiles:
        raise ValueError("NSPDK needs at least one valid molecule")
    parts = parallel_map(_mean_chunk, smiles, n_jobs=n_jobs, chunk_size=1000, progress=progress, desc="NSPDK")
    dim = max(p[0].shape[0] for p in parts)
    total = np.zeros(dim)
    for vec, _ in parts:
        total[: vec.shape[0]] += vec
    return total / sum(n for _, n in parts)


def reference_embedding(smiles: Sequence[str], use_cache: bool = True, n_jobs: int | None = None,
                        progress: bool = False) -> np.ndarray:
    """Cached :func:`nspdk_mean_embedding` of a reference set (key: sha256 of the SMILES)."""
    smiles = list(smiles)
    key = smiles_key(smiles, _CACHE_VERSION)
    arrays = cached_npz("nspdk", key, lambda: {"mean": nspdk_mean_embedding(smiles, n_jobs, progress)},
                        use_cache=use_cache)
    return arrays["mean"]


def _mmd(a: np.ndarray, b: np.ndarray) -> float:
    dim = max(a.shape[0], b.shape[0])
    a = np.pad(a, (0, dim - a.shape[0]))
    b = np.pad(b, (0, dim - b.shape[0]))
    d = a - b
    return float(max(d @ d, 0.0))


def nspdk_mmd(generated: Sequence[str], reference: Sequence[str] | np.ndarray, use_cache: bool = True,
              n_jobs: int | None = None, progress: bool = False) -> float:
    """Squared NSPDK MMD between valid generated SMILES and a reference (SMILES or mean embedding)."""
    ref = reference if isinstance(reference, np.ndarray) else reference_embedding(
        reference, use_cache=use_cache, n_jobs=n_jobs, progress=progress)
    gen = nspdk_mean_embedding(generated, n_jobs=n_jobs, progress=progress)
    return _mmd(gen, ref)
