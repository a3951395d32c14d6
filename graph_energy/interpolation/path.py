"""A low-energy path of single edits between two aligned graphs (minimax beam search on the energy).

The edit set is the coordinates where the two aligned graphs differ (:mod:`.align`); each step sets
one of them to its value in ``b``, so every path has exactly ``edit_distance`` steps and visits only
graphs "between" the two ends. Order constraints keep every state an ordinary graph: a bond can be
set only between present nodes, and a node can be deleted (made absent) only once it has no bonds.

Path cost: the largest energy along the path (a *minimax* path). The search is a beam search over
the lattice of applied-edit sets: at depth ``t`` it keeps the ``beam_width`` sets of ``t`` edits
with the lowest path maximum (ties: lower current energy), a set reached by several orders keeping
the best of them (the Dijkstra-like merge; with an unbounded beam the result is the exact minimax
path). ``invalid_penalty`` (default 0) adds a constant to the energy of states that do not decode to
a sanitisable molecule, for the search only; reported energies are always the model's.

The naive path applies the same edits in a random order (subject to the same constraints).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from graph_energy.chem.convert import canonical_smiles, graph_to_mol
from graph_energy.data.dense import DenseGraph
from graph_energy.interpolation.align import ABSENT, Alignment

__all__ = ["Edit", "PathState", "InterpolationPath", "edits_between", "apply_edit", "can_apply", "state_energies",
           "minimax_path", "naive_path"]


@dataclass(frozen=True)
class Edit:
    """One coordinate change: node slot ``i`` (``j = -1``) or pair ``(i, j)``, ``i < j``, from ``old`` to ``new``
    (node classes may be :data:`~graph_energy.interpolation.align.ABSENT`)."""

    i: int
    j: int
    old: int
    new: int

    @property
    def is_node(self) -> bool:
        return self.j < 0

    def describe(self, spec) -> str:
        def atom(c):
            return "absent" if c == ABSENT else spec.atom_types[c]

        if self.is_node:
            return f"node {self.i}: {atom(self.old)} -> {atom(self.new)}"
        return f"bond {self.i}-{self.j}: {spec.bond_types[self.old]} -> {spec.bond_types[self.new]}"


def edits_between(al: Alignment) -> list[Edit]:
    """The differing coordinates of an alignment: node edits first, then pairs in row-major order."""
    out = [Edit(int(i), -1, int(al.x_a[i]), int(al.x_b[i])) for i in np.nonzero(al.x_a != al.x_b)[0]]
    iu, ju = np.triu_indices(al.num_slots, 1)
    diff = al.e_a[iu, ju] != al.e_b[iu, ju]
    out += [Edit(int(i), int(j), int(al.e_a[i, j]), int(al.e_b[i, j])) for i, j in zip(iu[diff], ju[diff])]
    return out


def can_apply(x: np.ndarray, e: np.ndarray, edit: Edit) -> bool:
    """Whether ``edit`` keeps ``(x, e)`` an ordinary graph (bonds only between present nodes; a node is
    deleted only when it has no bonds)."""
    if edit.is_node:
        return edit.new != ABSENT or not e[edit.i].any()
    return x[edit.i] != ABSENT and x[edit.j] != ABSENT


def apply_edit(x: np.ndarray, e: np.ndarray, edit: Edit) -> tuple[np.ndarray, np.ndarray]:
    """Copies of ``x (N,)``, ``e (N,N)`` with ``edit`` applied."""
    x, e = x.copy(), e.copy()
    if edit.is_node:
        x[edit.i] = edit.new
    else:
        e[edit.i, edit.j] = e[edit.j, edit.i] = edit.new
    return x, e


def _dense(xs: np.ndarray, es: np.ndarray, spec) -> DenseGraph:
    """One-hot batch of slot states ``xs (K,N)``, ``es (K,N,N)``: present nodes moved to the front, padded
    to ``spec.max_nodes`` (so energies match those of the molecules scored on their own)."""
    x = torch.as_tensor(xs, dtype=torch.long)
    e = torch.as_tensor(es, dtype=torch.long)
    present = x != ABSENT
    order = torch.sort((~present).long(), dim=1, stable=True).indices
    x = x.gather(1, order)
    e = e.gather(1, order[:, :, None].expand_as(e)).gather(2, order[:, None, :].expand_as(e))
    mask = present.gather(1, order)
    K, N = x.shape
    M = max(int(spec.max_nodes), N)
    xp = torch.zeros(K, M, dtype=torch.long)
    ep = torch.zeros(K, M, M, dtype=torch.long)
    mp = torch.zeros(K, M, dtype=torch.bool)
    xp[:, :N], ep[:, :N, :N], mp[:, :N] = x.clamp_min(0), e, mask
    return DenseGraph.from_labels(xp, ep, mp, spec.num_atom_types, spec.num_bond_types)


@torch.no_grad()
def state_energies(model, spec, xs: np.ndarray, es: np.ndarray, batch_size: int = 256,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """Model energies ``(K,)`` float64 of slot states."""
    out = []
    for s in range(0, len(xs), batch_size):
        out.append(model(_dense(xs[s:s + batch_size], es[s:s + batch_size], spec).to(device)).double().cpu())
    return torch.cat(out).numpy() if out else np.zeros(0)


def _decode(x: np.ndarray, e: np.ndarray, spec) -> str | None:
    keep = np.nonzero(x != ABSENT)[0]
    mol = graph_to_mol(x[keep], e[np.ix_(keep, keep)], spec)
    return canonical_smiles(mol) if mol is not None else None


@dataclass
class PathState:
    """One graph along a path: slot labels, the edit that led to it, its energy and decoded SMILES."""

    x: np.ndarray
    e: np.ndarray
    edit: Edit | None
    energy: float
    smiles: str | None

    @property
    def valid(self) -> bool:
        return self.smiles is not None

    @property
    def num_nodes(self) -> int:
        return int((self.x != ABSENT).sum())


@dataclass
class InterpolationPath:
    """A path of single edits from ``a`` to ``b`` (both ends included).

    Attributes:
        states: ``T + 1`` states; ``states[0]`` is ``a``, ``states[-1]`` is ``b``.
        alignment: the node alignment the path lives on.
        evaluations: energy evaluations spent by the search.
    """

    states: list[PathState]
    alignment: Alignment
    evaluations: int = 0
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.states) - 1

    @property
    def energies(self) -> np.ndarray:
        return np.asarray([s.energy for s in self.states])

    @property
    def smiles(self) -> list[str | None]:
        return [s.smiles for s in self.states]

    @property
    def max_energy(self) -> float:
        return float(self.energies.max())

    @property
    def barrier(self) -> float:
        """Highest energy along the path above the higher of the two ends (>= 0)."""
        e = self.energies
        return float(e.max() - max(e[0], e[-1]))

    @property
    def valid_fraction(self) -> float:
        """Fraction of intermediate states (ends excluded) that decode to a valid molecule (1 if none)."""
        mid = self.states[1:-1]
        return float(np.mean([s.valid for s in mid])) if mid else 1.0

    def records(self, spec) -> list[dict]:
        return [{"step": t, "edit": s.edit.describe(spec) if s.edit is not None else None,
                 "smiles": s.smiles, "valid": s.valid, "energy": s.energy, "num_nodes": s.num_nodes}
                for t, s in enumerate(self.states)]


def _build(model, spec, al: Alignment, edits: list[Edit], order: list[int], energies=None, device="cpu",
           evaluations: int = 0, info: dict | None = None) -> InterpolationPath:
    xs, es = [al.x_a.copy()], [al.e_a.copy()]
    for k in order:
        x, e = apply_edit(xs[-1], es[-1], edits[k])
        xs.append(x)
        es.append(e)
    if energies is None:
        energies = state_energies(model, spec, np.stack(xs), np.stack(es), device=device)
        evaluations += len(xs)
    states = [PathState(x, e, edits[order[t - 1]] if t else None, float(energies[t]), _decode(x, e, spec))
              for t, (x, e) in enumerate(zip(xs, es))]
    return InterpolationPath(states, al, evaluations, dict(info or {}))


def naive_path(model, spec, al: Alignment, generator: np.random.Generator, device="cpu") -> InterpolationPath:
    """The edits of ``al`` in a uniformly random order among those applicable at each step."""
    edits = edits_between(al)
    x, e, left, order = al.x_a.copy(), al.e_a.copy(), list(range(len(edits))), []
    while left:
        ok = [k for k in left if can_apply(x, e, edits[k])]
        k = ok[int(generator.integers(len(ok)))]
        x, e = apply_edit(x, e, edits[k])
        left.remove(k)
        order.append(k)
    return _build(model, spec, al, edits, order, device=device, info={"method": "naive"})


def minimax_path(model, spec, al: Alignment, beam_width: int = 8, invalid_penalty: float = 0.0,
                 batch_size: int = 256, device="cpu") -> InterpolationPath:
    """Beam search for the path with the lowest maximum energy (module docstring)."""
    if int(beam_width) < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    edits = edits_between(al)
    e0 = state_energies(model, spec, al.x_a[None], al.e_a[None], device=device)[0]
    evaluations = 1
    # beam entries: (mask, x, e, path_max, energy, order)
    beam = [(0, al.x_a.copy(), al.e_a.copy(), e0, e0, [], [e0])]
    for _ in range(len(edits)):
        children: dict[int, tuple] = {}
        for mask, x, e, pmax, _, order, ens in beam:
            for k, ed in enumerate(edits):
                if mask >> k & 1 or not can_apply(x, e, ed):
                    continue
                m = mask | (1 << k)
                if m not in children:
                    children[m] = (x, e, k, [])
                children[m][3].append((pmax, order + [k], ens))
        keys = list(children)
        new = [apply_edit(children[m][0], children[m][1], edits[children[m][2]]) for m in keys]
        xs, es = np.stack([n[0] for n in new]), np.stack([n[1] for n in new])
        en = state_energies(model, spec, xs, es, batch_size, device)
        evaluations += len(keys)
        cost = en.copy()
        if invalid_penalty:
            cost += invalid_penalty * np.asarray([_decode(x, e, spec) is None for x, e in zip(xs, es)])
        scored = []
        for c, m in enumerate(keys):
            pmax, order, ens = min(children[m][3], key=lambda p: p[0])  # best way into this edit set
            scored.append((max(pmax, cost[c]), cost[c], m, xs[c], es[c], order, ens + [en[c]]))
        scored.sort(key=lambda s: (s[0], s[1], s[2]))
        beam = [(m, x, e, pm, ce, o, ens) for pm, ce, m, x, e, o, ens in scored[: int(beam_width)]]
    best = beam[0]
    return _build(model, spec, al, edits, best[5], np.asarray(best[6]), device, evaluations,
                  {"method": "minimax", "beam_width": int(beam_width), "invalid_penalty": float(invalid_penalty)})
