"""A kernel that lives outside the library, selected purely by ``_target_`` (tests that a new kernel is one
class plus one config entry)."""

from __future__ import annotations

import torch

from graph_energy.data.dense import GraphLabels
from graph_energy.samplers import Candidate, Kernel, KernelStep


class ToyKernel(Kernel):
    """Proposes the graph of isolated atoms of class ``atom`` (every bond removed) and always accepts.

    Counts its moves in the counter ``toy_moves`` and the steps it has seen in its own per-chain state.
    """

    def __init__(self, atom: int = 0) -> None:
        self.atom = int(atom)

    def init_state(self, state):
        return {"seen": torch.zeros_like(state.steps)}

    def propose(self, state, active, *, generator=None) -> Candidate:
        lab = state.labels
        x = torch.where(active[:, None] & lab.node_mask, torch.full_like(lab.x, self.atom), lab.x)
        e = torch.where(active[:, None, None], torch.zeros_like(lab.e), lab.e)
        changed = active & ((x != lab.x).any(1) | (e != lab.e).flatten(1).any(1))
        return Candidate(GraphLabels(x, e, lab.node_mask), changed, torch.zeros_like(active))

    def accept(self, state, candidate, cand_eval, active, *, generator=None) -> KernelStep:
        return KernelStep(candidate, active.clone(), counters={"toy_moves": (candidate.changed & active).long()},
                          state={"seen": state.data["seen"] + active.long()})
