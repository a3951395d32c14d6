"""Node alignment of two molecular graphs on a common set of node slots.

The library's graphs have a fixed node count per graph, so two molecules of different sizes are put
on ``N = max(n_a, n_b)`` *slots*; a slot the smaller molecule does not use holds an **absent** node
(class :data:`ABSENT` = -1, no bonds). An interpolation path then edits one slot coordinate at a time
(see :mod:`graph_energy.interpolation.path`); inserting a node turns an absent slot into an isolated
atom and deleting one needs all its bonds removed first, so every intermediate state is an ordinary
graph of the library (its present nodes, with its own node count).

Matching: graphs of at most 9 slots (QM9 size) get an alignment of minimum edit distance by brute
force over all slot orders (under a second). Larger graphs: a cost between every node of ``a`` and
every node of ``b`` (type mismatch plus half the L1 distance of their (neighbour type, bond type)
histograms; a node matched to an absent slot costs one node edit plus its bonds) solved with
:func:`scipy.optimize.linear_sum_assignment`, re-solved on a neighbour-aware cost (the bonds that
would differ given the current matching of the neighbours), then improved by swaps of two and
rotations of three slots while the edit distance under the alignment drops, from several seeded
starts. On random pairs of QM9 test molecules the heuristic alone reaches the exact minimum in
about 85 % of pairs (at most 3 edits more).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from graph_energy.chem.convert import MolGraph

__all__ = ["ABSENT", "Alignment", "align", "edit_distance", "exact_edit_distance", "pad_graph"]

#: Class of a node slot the molecule does not use.
ABSENT = -1


def pad_graph(g: MolGraph, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels of ``g`` on ``n >= g.num_nodes`` slots: ``x (n,)`` with :data:`ABSENT` padding, ``e (n,n)``."""
    x = np.full(n, ABSENT, dtype=np.int64)
    e = np.zeros((n, n), dtype=np.int64)
    x[: g.num_nodes] = g.x
    e[: g.num_nodes, : g.num_nodes] = g.e
    return x, e


def edit_distance(x_a: np.ndarray, e_a: np.ndarray, x_b: np.ndarray, e_b: np.ndarray) -> int:
    """Number of differing coordinates (slots, and pairs ``i<j``) of two slot-aligned graphs."""
    iu = np.triu_indices(len(x_a), 1)
    return int((x_a != x_b).sum() + (e_a[iu] != e_b[iu]).sum())


@dataclass
class Alignment:
    """Two graphs on ``N`` common slots.

    Attributes:
        x_a, x_b: ``(N,)`` long node classes per slot (:data:`ABSENT` where unused).
        e_a, e_b: ``(N, N)`` long bond classes per slot pair (symmetric, 0 on absent slots).
        slot_of_b: ``(n_b,)`` the slot of each node of ``b`` (nodes of ``a`` keep slots ``0..n_a-1``).
    """

    x_a: np.ndarray
    e_a: np.ndarray
    x_b: np.ndarray
    e_b: np.ndarray
    slot_of_b: np.ndarray

    @property
    def num_slots(self) -> int:
        return int(self.x_a.shape[0])

    @property
    def edit_distance(self) -> int:
        """Single-coordinate edits that turn ``a`` into ``b`` under this alignment."""
        return edit_distance(self.x_a, self.e_a, self.x_b, self.e_b)


def _descriptors(g: MolGraph, n_types: int, n_bonds: int) -> np.ndarray:
    """``(n, n_types·n_bonds)`` counts of (neighbour class, bond class) per node."""
    d = np.zeros((g.num_nodes, n_types * n_bonds))
    for i, j in zip(*np.nonzero(g.e)):
        d[i, g.x[j] * n_bonds + g.e[i, j]] += 1
    return d


def _cost(a: MolGraph, b: MolGraph, n: int) -> np.ndarray:
    """``(n, n)`` cost: rows = slots of ``a`` (absent past ``n_a``), columns = slots of ``b``."""
    n_types = int(max(a.x.max(initial=0), b.x.max(initial=0))) + 1
    n_bonds = int(max(a.e.max(initial=0), b.e.max(initial=0))) + 1
    da, db = _descriptors(a, n_types, n_bonds), _descriptors(b, n_types, n_bonds)
    cost = np.zeros((n, n))
    cost[: a.num_nodes, : b.num_nodes] = ((a.x[:, None] != b.x[None, :])
                                          + 0.5 * np.abs(da[:, None, :] - db[None, :, :]).sum(-1))
    cost[a.num_nodes:, : b.num_nodes] = 1.0 + (b.e > 0).sum(1)[None, :]   # insert a node of b
    cost[: a.num_nodes, b.num_nodes:] = 1.0 + (a.e > 0).sum(1)[:, None]   # delete a node of a
    return cost


def _place(b: MolGraph, slot_of_b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.full(n, ABSENT, dtype=np.int64)
    e = np.zeros((n, n), dtype=np.int64)
    x[slot_of_b] = b.x
    e[np.ix_(slot_of_b, slot_of_b)] = b.e
    return x, e


def _distance(x_a, e_a, b: MolGraph, perm: np.ndarray, n: int) -> int:
    return edit_distance(x_a, e_a, *_place(b, np.argsort(perm)[: b.num_nodes], n))


def _local_search(x_a, e_a, b: MolGraph, perm: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Improve ``perm`` (slot -> node of b, ``>= n_b``: absent) by swaps of two slots and rotations of three
    (first improvement, until none helps)."""
    best = _distance(x_a, e_a, b, perm, n)
    moves = [(s, t) for s, t in itertools.combinations(range(n), 2)]
    moves += [(s, t, u) for s, t, u in itertools.permutations(range(n), 3) if s < t and s < u]
    improved = True
    while improved:
        improved = False
        for mv in moves:
            if all(perm[k] >= b.num_nodes for k in mv):
                continue
            trial = perm.copy()
            trial[list(mv)] = perm[list(mv[1:]) + [mv[0]]]
            d = _distance(x_a, e_a, b, trial, n)
            if d < best:
                perm, best, improved = trial, d, True
    return perm, best


def _relinearised(x_a, e_a, b: MolGraph, perm: np.ndarray, n: int) -> np.ndarray:
    """Assignment cost given the current matching of the neighbours: node mismatch plus the pairs that
    would differ if slot ``s`` took node ``j`` and every other slot kept its node (one linearisation step
    of the quadratic assignment)."""
    xb = np.full(n, ABSENT, dtype=np.int64)
    xb[: b.num_nodes] = b.x
    bond_to_slot = np.zeros((n, n), dtype=np.int64)  # [j, t]: bond between node j and the node now at slot t
    for t in range(n):
        if perm[t] < b.num_nodes:
            bond_to_slot[: b.num_nodes, t] = b.e[:, perm[t]]
    # slot s taking node j: node mismatch + half of the pairs (s, t) whose bond would differ
    return (x_a[:, None] != xb[None, :]) + 0.5 * (e_a[:, None, :] != bond_to_slot[None, :, :]).sum(-1)


def _assign(cost: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(rows), dtype=np.int64)
    perm[rows] = cols
    return perm


def align(a: MolGraph, b: MolGraph, refine: bool = True, restarts: int = 8, exact_max_slots: int = 9) -> Alignment:
    """Align ``b`` to ``a`` (module docstring).

    Graphs of at most ``exact_max_slots`` slots (QM9 size: under a second) get the exact minimum edit
    distance alignment by brute force. Larger ones: the assignment, re-solved on the neighbour-aware
    cost and improved by local search, from the plain start and ``restarts`` seeded perturbations of
    it (the best is kept; deterministic). ``refine=False`` keeps the plain assignment.
    """
    n = max(a.num_nodes, b.num_nodes)
    base = _cost(a, b, n)
    x_a, e_a = pad_graph(a, n)
    perm = _assign(base)
    if refine and n <= int(exact_max_slots):
        perm = _exact_perm(a, b, n)[0]
    elif refine:
        rng = np.random.default_rng(0)
        best, best_d = None, None
        for r in range(int(restarts) + 1):
            start = _assign(base + (rng.uniform(0, 1.0, base.shape) if r else 0.0))
            for _ in range(4):  # a few relinearisations, then local search
                nxt = _assign(_relinearised(x_a, e_a, b, start, n))
                if _distance(x_a, e_a, b, nxt, n) >= _distance(x_a, e_a, b, start, n):
                    break
                start = nxt
            cand, d = _local_search(x_a, e_a, b, start, n)
            if best_d is None or d < best_d:
                best, best_d = cand, d
        perm = best
    slot_of_b = np.argsort(perm)[: b.num_nodes]
    x_b, e_b = _place(b, slot_of_b, n)
    return Alignment(x_a, e_a, x_b, e_b, slot_of_b)


def _exact_perm(a: MolGraph, b: MolGraph, n: int) -> tuple[np.ndarray, int]:
    """The slot order of ``b`` (``perm[slot]`` = node, ``>= n_b`` absent) with the smallest edit distance, by
    brute force over all ``n!`` orders (the first one in lexicographic order among ties)."""
    x_a, e_a = pad_graph(a, n)
    x_b, e_b = pad_graph(b, n)
    iu, ju = np.triu_indices(n, 1)
    best, best_d = None, None
    perms = np.asarray(list(itertools.permutations(range(n))), dtype=np.int64).reshape(-1, n)
    for chunk in np.array_split(perms, max(1, len(perms) // 20000)):
        d = (x_b[chunk] != x_a[None, :]).sum(1) + (e_b[chunk[:, iu], chunk[:, ju]] != e_a[None, iu, ju]).sum(1)
        k = int(d.argmin())
        if best_d is None or int(d[k]) < best_d:
            best, best_d = chunk[k].copy(), int(d[k])
    return best, best_d


def exact_edit_distance(a: MolGraph, b: MolGraph, max_slots: int = 9) -> int | None:
    """The smallest edit distance over all alignments (brute force over ``N!`` slot orders; ``None`` when
    ``N > max_slots``). The reference for how good the heuristic alignment is."""
    n = max(a.num_nodes, b.num_nodes)
    return _exact_perm(a, b, n)[1] if n <= max_slots else None
