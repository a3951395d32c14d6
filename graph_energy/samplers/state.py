"""Per-chain bookkeeping of the phased sampler and its result dataclass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph
from graph_energy.samplers.switch import SwitchReason
from graph_energy.samplers.target import TargetEval

__all__ = ["Phase", "ChainState", "SampleResult"]


class Phase:
    """Codes stored per chain in ``phase``."""

    TRANSPORT, MIXING, DONE = 0, 1, 2


@dataclass
class ChainState:
    """State of ``B`` chains between two driver steps.

    Attributes:
        graph: current graphs (one-hot dense batch).
        eval: target energy and gradient at ``graph`` (energy = model + extra terms).
        threshold: ``(B,)`` float64 switch threshold per chain (``-inf`` = energy criterion off).
        phase: ``(B,)`` long :class:`Phase` code.
        transport_steps, mixing_steps: ``(B,)`` long, steps spent in each phase.
        switch_step: ``(B,)`` long, transport steps taken when the chain switched (``-1`` before).
        switch_reason: ``(B,)`` long :class:`~graph_energy.samplers.switch.SwitchReason` code.
        accepted: ``(B,)`` long, accepted MH proposals (no-ops included).
        noops: ``(B,)`` long, MH proposals with ``x' = x``.
        evaluations: ``(B,)`` long, energy+gradient evaluations spent on the chain (initial one included).
        edits: ``(B,)`` long, transport edits per step allowed for each chain (adapted by the kernel).
        step: driver steps taken so far.
    """

    graph: DenseGraph
    eval: TargetEval
    threshold: Tensor
    phase: Tensor
    transport_steps: Tensor
    mixing_steps: Tensor
    switch_step: Tensor
    switch_reason: Tensor
    accepted: Tensor
    noops: Tensor
    evaluations: Tensor
    edits: Tensor
    step: int = 0

    @classmethod
    def start(cls, graph: DenseGraph, ev: TargetEval, threshold: Tensor, edits: int = 1) -> ChainState:
        B, dev = graph.batch_size, graph.x.device

        def zeros() -> Tensor:
            return torch.zeros(B, dtype=torch.long, device=dev)
        return cls(graph, ev, threshold, zeros(), zeros(), zeros(), zeros() - 1, zeros(), zeros(), zeros(),
                   zeros() + 1, zeros() + int(edits))

    def switch(self, mask: Tensor, reason: int, next_phase: int) -> None:
        """Move the transport chains in ``mask`` to ``next_phase`` (mixing, or done if there is none)."""
        mask = mask & (self.phase == Phase.TRANSPORT)
        self.phase = torch.where(mask, torch.full_like(self.phase, next_phase), self.phase)
        self.switch_step = torch.where(mask, self.transport_steps, self.switch_step)
        self.switch_reason = torch.where(mask, torch.full_like(self.switch_reason, reason), self.switch_reason)


@dataclass
class SampleResult:
    """Final chains of a sampling run.

    Attributes:
        graphs: final graphs, ``B`` chains.
        smiles: canonical SMILES per chain (``None`` when it does not sanitise or no spec was given).
        energy: ``(B,)`` full target energy; model_energy: ``(B,)`` the model's own.
        num_nodes, transport_steps, mixing_steps, switch_step, switch_reason, accepted, noops,
        evaluations: ``(B,)`` long, as in :class:`ChainState`.
        wall_time: seconds spent (sampling + decoding).
    """

    graphs: DenseGraph
    smiles: list
    energy: Tensor
    model_energy: Tensor
    num_nodes: Tensor
    transport_steps: Tensor
    mixing_steps: Tensor
    switch_step: Tensor
    switch_reason: Tensor
    accepted: Tensor
    noops: Tensor
    evaluations: Tensor
    wall_time: float = 0.0

    def __len__(self) -> int:
        return self.graphs.batch_size

    @property
    def valid(self) -> Tensor:
        """``(B,)`` bool: decodes to a sanitisable molecule."""
        return torch.tensor([s is not None for s in self.smiles], dtype=torch.bool)

    @property
    def connected(self) -> Tensor:
        """``(B,)`` bool: valid and a single fragment."""
        return torch.tensor([s is not None and "." not in s for s in self.smiles], dtype=torch.bool)

    @property
    def acceptance_rate(self) -> Tensor:
        """``(B,)`` float, accepted / MH steps (NaN for chains that did not mix)."""
        return self.accepted.double() / self.mixing_steps.double()

    @staticmethod
    def cat(results: Sequence[SampleResult]) -> SampleResult:
        if not results:
            raise ValueError("nothing to concatenate: empty list of SampleResult")
        t = {k: torch.cat([getattr(r, k) for r in results]) for k in
             ("energy", "model_energy", "num_nodes", "transport_steps", "mixing_steps", "switch_step",
              "switch_reason", "accepted", "noops", "evaluations")}
        return SampleResult(DenseGraph.cat([r.graphs for r in results]), [s for r in results for s in r.smiles],
                            wall_time=sum(r.wall_time for r in results), **t)

    def records(self) -> list[dict]:
        """One plain dict per chain (for a CSV)."""
        rows = []
        for b in range(len(self)):
            rows.append({
                "smiles": self.smiles[b] or "", "valid": bool(self.smiles[b] is not None),
                "connected": bool(self.smiles[b] is not None and "." not in self.smiles[b]),
                "num_nodes": int(self.num_nodes[b]), "energy": float(self.energy[b]),
                "model_energy": float(self.model_energy[b]), "transport_steps": int(self.transport_steps[b]),
                "mixing_steps": int(self.mixing_steps[b]), "switch_step": int(self.switch_step[b]),
                "switch_reason": SwitchReason.NAMES[int(self.switch_reason[b])],
                "accepted": int(self.accepted[b]), "noops": int(self.noops[b]),
                "evaluations": int(self.evaluations[b]),
            })
        return rows

    def summary(self) -> dict:
        """Aggregate figures: validity, connected validity, uniqueness (among valid), molecules/s,
        energy evaluations per molecule, MH acceptance and no-op rates, mean steps per phase."""
        n = len(self)
        valid = [s for s in self.smiles if s is not None]
        mix = self.mixing_steps.sum().item()
        reasons = {name: int((self.switch_reason == code).sum()) for code, name in SwitchReason.NAMES.items()}
        return {
            "num_samples": n,
            "validity": len(valid) / n if n else 0.0,
            "connected_validity": float(self.connected.double().mean()) if n else 0.0,
            "uniqueness": len(set(valid)) / len(valid) if valid else 0.0,
            "valid_unique": len(set(valid)) / n if n else 0.0,
            "molecules_per_s": n / self.wall_time if self.wall_time > 0 else float("nan"),
            "evaluations_per_molecule": float(self.evaluations.double().mean()) if n else 0.0,
            "acceptance_rate": self.accepted.sum().item() / mix if mix else float("nan"),
            "noop_rate": self.noops.sum().item() / mix if mix else float("nan"),
            "mean_transport_steps": float(self.transport_steps.double().mean()) if n else 0.0,
            "mean_mixing_steps": float(self.mixing_steps.double().mean()) if n else 0.0,
            "mean_energy": float(self.energy.double().mean()) if n else float("nan"),
            "switch_reasons": reasons,
        }
