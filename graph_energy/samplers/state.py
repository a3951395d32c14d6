"""Per-chain bookkeeping of the phased driver and its result dataclass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.samplers.frozen import FrozenMask
from graph_energy.samplers.kernels import ChainView
from graph_energy.samplers.switch import SwitchReason
from graph_energy.samplers.target import TargetEval

__all__ = ["ChainState", "SampleResult"]


@dataclass
class ChainState:
    """State of ``B`` chains between two driver steps of a sampler with ``P`` phases.

    Attributes:
        graph: current graphs (one-hot dense batch).
        eval: target energy and gradient at ``graph`` (energy = model + extra terms).
        names: the phase names, in order.
        phase: ``(B,)`` long index of each chain's phase; ``P`` = done.
        steps: ``(B, P)`` long, steps taken in each phase.
        exit_step: ``(B, P)`` long, steps taken in a phase when the chain left it (``-1`` before).
        exit_reason: ``(B, P)`` long :class:`~graph_energy.samplers.switch.SwitchReason` code of each exit.
        evaluations: ``(B,)`` long, energy+gradient evaluations spent on the chain (initial one included).
        counters: ``name -> (B,)`` long sums of the kernels' counters (``accepted``, ``noops``, ``edits``, ...).
        kernel_state: phase name -> that phase's kernel state (``name -> (B, ...)`` tensors).
        switch_state: phase name -> that phase's switch state (e.g. ``threshold``).
        step: driver steps taken so far.
        frozen: coordinates no kernel may change (``None``: all free).
    """

    graph: DenseGraph
    eval: TargetEval
    names: tuple[str, ...]
    phase: Tensor
    steps: Tensor
    exit_step: Tensor
    exit_reason: Tensor
    evaluations: Tensor
    counters: dict[str, Tensor] = field(default_factory=dict)
    kernel_state: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    switch_state: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    step: int = 0
    frozen: FrozenMask | None = None

    @classmethod
    def start(cls, graph: DenseGraph, ev: TargetEval, names: Sequence[str],
              frozen: FrozenMask | None = None) -> ChainState:
        B, P, dev = graph.batch_size, len(names), graph.x.device
        zeros = torch.zeros(B, P, dtype=torch.long, device=dev)
        return cls(graph, ev, tuple(names), torch.zeros(B, dtype=torch.long, device=dev), zeros.clone(),
                   zeros - 1, zeros.clone(), torch.ones(B, dtype=torch.long, device=dev), frozen=frozen)

    @property
    def done(self) -> Tensor:
        """``(B,)`` bool: the chain has left its last phase."""
        return self.phase >= len(self.names)

    def in_phase(self, name: str) -> Tensor:
        """``(B,)`` bool: the chain is in phase ``name``."""
        return self.phase == self.names.index(name)

    def view(self, p: int, labels: GraphLabels | None = None) -> ChainView:
        """What the kernel of phase ``p`` sees (``labels``: the graphs' labels, if already computed)."""
        name = self.names[p]
        return ChainView(self.graph, self.graph.to_labels() if labels is None else labels, self.eval,
                         self.steps[:, p], self.kernel_state.get(name, {}), self.frozen)

    def leave(self, mask: Tensor, p: int, reason: int) -> None:
        """Move the chains in ``mask`` that are in phase ``p`` to phase ``p + 1`` (or done)."""
        mask = mask & (self.phase == p)
        self.phase = torch.where(mask, self.phase + 1, self.phase)
        self.exit_step[:, p] = torch.where(mask, self.steps[:, p], self.exit_step[:, p])
        self.exit_reason[:, p] = torch.where(mask, torch.full_like(self.exit_reason[:, p], reason),
                                             self.exit_reason[:, p])

    def add_counters(self, counters: dict[str, Tensor]) -> None:
        for k, v in counters.items():
            self.counters[k] = self.counters.get(k, torch.zeros_like(self.evaluations)) + v.long()


_COUNTERS = ("accepted", "noops")  # always reported (0 when no kernel counts them)


@dataclass
class SampleResult:
    """Final chains of a sampling run.

    Attributes:
        graphs: final graphs, ``B`` chains.
        smiles: canonical SMILES per chain (``None`` when it does not sanitise or no spec was given).
        energy: ``(B,)`` full target energy; model_energy: ``(B,)`` the model's own.
        num_nodes: ``(B,)`` long.
        phase_steps: phase name -> ``(B,)`` long steps taken in that phase (in phase order).
        exit_step, exit_reason: phase name -> ``(B,)`` long, as in :class:`ChainState`.
        evaluations: ``(B,)`` long energy+gradient evaluations (initial one included).
        counters: name -> ``(B,)`` long kernel counters (``accepted``, ``noops``, ``proposals``, ``edits``...).
        wall_time: seconds spent (sampling + decoding).

    ``transport_steps``/``mixing_steps`` are the steps of the phases so named (0 if there is none);
    ``switch_step``/``switch_reason`` describe how each chain left the first phase.
    """

    graphs: DenseGraph
    smiles: list
    energy: Tensor
    model_energy: Tensor
    num_nodes: Tensor
    phase_steps: dict[str, Tensor]
    exit_step: dict[str, Tensor]
    exit_reason: dict[str, Tensor]
    evaluations: Tensor
    counters: dict[str, Tensor] = field(default_factory=dict)
    wall_time: float = 0.0

    def __len__(self) -> int:
        return self.graphs.batch_size

    def _zeros(self) -> Tensor:
        return torch.zeros_like(self.evaluations)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.phase_steps)

    @property
    def transport_steps(self) -> Tensor:
        return self.phase_steps.get("transport", self._zeros())

    @property
    def mixing_steps(self) -> Tensor:
        return self.phase_steps.get("mixing", self._zeros())

    @property
    def switch_step(self) -> Tensor:
        """``(B,)`` steps taken in the first phase when the chain left it (``-1``: it did not)."""
        return self.exit_step[self.names[0]]

    @property
    def switch_reason(self) -> Tensor:
        """``(B,)`` :class:`SwitchReason` code of the chain's exit from the first phase."""
        return self.exit_reason[self.names[0]]

    @property
    def accepted(self) -> Tensor:
        """``(B,)`` accepted MH proposals (no-ops included)."""
        return self.counters.get("accepted", self._zeros())

    @property
    def noops(self) -> Tensor:
        """``(B,)`` MH proposals with ``x' = x``."""
        return self.counters.get("noops", self._zeros())

    @property
    def proposals(self) -> Tensor:
        """``(B,)`` MH steps taken."""
        return self.counters.get("proposals", self._zeros())

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
        """``(B,)`` float, accepted / MH steps (NaN for chains that took none)."""
        return self.accepted.double() / self.proposals.double()

    @staticmethod
    def cat(results: Sequence[SampleResult]) -> SampleResult:
        if not results:
            raise ValueError("nothing to concatenate: empty list of SampleResult")
        first = results[0]

        def cat_dicts(attr: str) -> dict[str, Tensor]:
            keys = list(getattr(first, attr))
            if any(list(getattr(r, attr)) != keys for r in results):
                raise ValueError(f"cannot concatenate results of different samplers ({attr} differ)")
            return {k: torch.cat([getattr(r, attr)[k] for r in results]) for k in keys}

        keys = sorted({k for r in results for k in r.counters})
        counters = {k: torch.cat([r.counters.get(k, r._zeros()) for r in results]) for k in keys}
        t = {k: torch.cat([getattr(r, k) for r in results]) for k in ("energy", "model_energy", "num_nodes",
                                                                     "evaluations")}
        return SampleResult(DenseGraph.cat([r.graphs for r in results]), [s for r in results for s in r.smiles],
                            phase_steps=cat_dicts("phase_steps"), exit_step=cat_dicts("exit_step"),
                            exit_reason=cat_dicts("exit_reason"), counters=counters,
                            wall_time=sum(r.wall_time for r in results), **t)

    def records(self) -> list[dict]:
        """One plain dict per chain (for a CSV): SMILES, validity, energies, ``<phase>_steps``, the first
        switch (``switch_step``/``switch_reason``, later ones as ``<phase>_switch_step``/``_reason``), the
        counters and ``evaluations``."""
        names = self.names
        later = names[1:-1]
        extra = [k for k in self.counters if k not in _COUNTERS]
        rows = []
        for b in range(len(self)):
            s = self.smiles[b]
            row = {"smiles": s or "", "valid": s is not None, "connected": s is not None and "." not in s,
                   "num_nodes": int(self.num_nodes[b]), "energy": float(self.energy[b]),
                   "model_energy": float(self.model_energy[b])}
            row.update({f"{n}_steps": int(self.phase_steps[n][b]) for n in names})
            row.update(switch_step=int(self.switch_step[b]),
                       switch_reason=SwitchReason.NAMES[int(self.switch_reason[b])])
            for n in later:
                row[f"{n}_switch_step"] = int(self.exit_step[n][b])
                row[f"{n}_switch_reason"] = SwitchReason.NAMES[int(self.exit_reason[n][b])]
            row.update(accepted=int(self.accepted[b]), noops=int(self.noops[b]),
                       evaluations=int(self.evaluations[b]))
            row.update({k: int(self.counters[k][b]) for k in extra})
            rows.append(row)
        return rows

    def summary(self) -> dict:
        """Aggregate figures: validity, connected validity, uniqueness (among valid), molecules/s,
        energy evaluations per molecule, MH acceptance and no-op rates, mean steps per phase."""
        n = len(self)
        valid = [s for s in self.smiles if s is not None]
        mh = self.proposals.sum().item()
        reasons = {name: int((self.switch_reason == code).sum()) for code, name in SwitchReason.NAMES.items()}
        out = {
            "num_samples": n,
            "validity": len(valid) / n if n else 0.0,
            "connected_validity": float(self.connected.double().mean()) if n else 0.0,
            "uniqueness": len(set(valid)) / len(valid) if valid else 0.0,
            "valid_unique": len(set(valid)) / n if n else 0.0,
            "molecules_per_s": n / self.wall_time if self.wall_time > 0 else float("nan"),
            "evaluations_per_molecule": float(self.evaluations.double().mean()) if n else 0.0,
            "acceptance_rate": self.accepted.sum().item() / mh if mh else float("nan"),
            "noop_rate": self.noops.sum().item() / mh if mh else float("nan"),
        }
        for name in ("transport", "mixing", *[p for p in self.names if p not in ("transport", "mixing")]):
            steps = self.phase_steps.get(name, self._zeros())
            out[f"mean_{name}_steps"] = float(steps.double().mean()) if n else 0.0
        out["mean_energy"] = float(self.energy.double().mean()) if n else float("nan")
        out["switch_reasons"] = reasons
        return out
