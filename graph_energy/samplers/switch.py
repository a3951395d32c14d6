"""Phase switches and the per-size calibration of the energy switch (METHOD.md §3.2).

A chain leaves transport when its model energy reaches the typical energy of real data of its node
count (a per-size quantile of held-out data energies), when it has arrived (no improving edit), or
at the phase's step cap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from graph_energy.config import Configurable, target_name, to_config
from graph_energy.data.dense import DenseGraph
from graph_energy.samplers.kernels import ChainView, ConfigRepr

__all__ = ["Calibration", "calibrate_thresholds", "data_energies", "Switch", "EnergySwitch", "SwitchReason"]

log = logging.getLogger(__name__)


class SwitchReason:
    """Codes stored per chain in ``switch_reason``."""

    NONE, THRESHOLD, ARRIVED, CAP = 0, 1, 2, 3
    NAMES = {0: "none", 1: "threshold", 2: "arrived", 3: "cap"}


@dataclass
class Calibration:
    """Per-node-count energy thresholds.

    Attributes:
        quantile: the quantile of held-out data energies each threshold is.
        thresholds: node count -> threshold (model energy).
        counts: node count -> number of data graphs behind the threshold.
        model_fingerprint: optional free-form tag of the model/checkpoint the energies came from.
    """

    quantile: float
    thresholds: dict[int, float]
    counts: dict[int, int] = field(default_factory=dict)
    model_fingerprint: str | None = None

    def __post_init__(self) -> None:
        if not self.thresholds:
            raise ValueError("a calibration needs at least one node count with a threshold")
        self.thresholds = {int(k): float(v) for k, v in self.thresholds.items()}
        self.counts = {int(k): int(v) for k, v in self.counts.items()}

    def threshold_for(self, num_nodes: Tensor) -> Tensor:
        """Thresholds ``(B,)`` (float64) for node counts ``(B,)``; a size without data takes the nearest
        calibrated size (the smaller one on a tie)."""
        sizes = torch.tensor(sorted(self.thresholds), dtype=torch.long)
        values = torch.tensor([self.thresholds[int(s)] for s in sizes], dtype=torch.float64)
        n = num_nodes.detach().long().cpu().view(-1)
        nearest = (n[:, None] - sizes[None, :]).abs().argmin(1)  # argmin returns the first (smaller) on ties
        return values[nearest].to(num_nodes.device)

    def to_dict(self) -> dict:
        return {"quantile": self.quantile, "thresholds": {str(k): v for k, v in sorted(self.thresholds.items())},
                "counts": {str(k): v for k, v in sorted(self.counts.items())},
                "model_fingerprint": self.model_fingerprint}

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        try:
            return cls(float(d["quantile"]), dict(d["thresholds"]), dict(d.get("counts", {})),
                       d.get("model_fingerprint"))
        except KeyError as err:
            raise ValueError(f"calibration dict lacks {err}; expected keys quantile, thresholds") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        return cls.from_dict(json.loads(Path(path).read_text()))


@torch.no_grad()
def data_energies(model, graphs: DenseGraph | Iterable[DenseGraph], batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """Model energies ``(M,)`` and node counts ``(M,)`` of data graphs (a batch or an iterable of batches)."""
    batches = [graphs] if isinstance(graphs, DenseGraph) else graphs
    energies, sizes = [], []
    for g in batches:
        for s in range(0, g.batch_size, batch_size):
            sub = g.index(slice(s, s + batch_size))
            energies.append(model(sub).detach().double().cpu())
            sizes.append(sub.num_nodes.cpu())
    if not energies:
        raise ValueError("no data graphs given to calibrate the energy switch")
    return torch.cat(energies), torch.cat(sizes)


def calibrate_thresholds(model, graphs: DenseGraph | Iterable[DenseGraph], quantile: float = 0.5,
                         batch_size: int = 256, min_count: int = 1) -> Calibration:
    """Per-size ``quantile`` of the model energies of held-out data graphs.

    Args:
        model: energy model ``model(graph) -> (B,)`` (put it in eval mode first).
        graphs: a :class:`DenseGraph` batch or an iterable of batches of data graphs.
        quantile: in ``(0, 1]``; a chain switches once its energy is at most this quantile.
        min_count: sizes with fewer graphs are left out (they fall back to the nearest size).
    """
    if not 0.0 < float(quantile) <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    energy, size = data_energies(model, graphs, batch_size)
    thresholds, counts = {}, {}
    for n in sorted(set(size.tolist())):
        e = energy[size == n]
        if e.numel() >= min_count:
            thresholds[int(n)] = float(torch.quantile(e, float(quantile)))
            counts[int(n)] = int(e.numel())
    if not thresholds:
        raise ValueError(f"no node count has at least min_count={min_count} graphs; lower min_count")
    return Calibration(float(quantile), thresholds, counts)


class Switch(ConfigRepr, Configurable):
    """Ends a phase for a chain before the phase's step cap (the cap itself is :attr:`Phase.max_steps`).

    The driver asks :meth:`fired` before the phase's first step and after every step; a chain whose
    kernel reports *arrival* at propose time moves on at once if ``on_arrival`` (otherwise it idles,
    without energy evaluations, until the cap). This base class only switches on arrival.

    Args:
        on_arrival: move an arrived chain to the next phase within the same driver step.
    """

    def __init__(self, on_arrival: bool = True) -> None:
        self.on_arrival = bool(on_arrival)

    @property
    def uses_calibration(self) -> bool:
        """Whether :meth:`init_state` reads per-size thresholds (a :class:`Calibration`)."""
        return False

    def init_state(self, state: ChainView, calibration: Calibration | None = None) -> dict[str, Tensor]:
        """Per-chain state at the start of a run; ``calibration`` (given at call time) overrides the
        switch's own."""
        return {}

    def fired(self, state: ChainView, data: dict[str, Tensor]) -> Tensor:
        """``(B,)`` bool: chains whose phase ends now (``data``: what :meth:`init_state` returned)."""
        return torch.zeros(state.graph.batch_size, dtype=torch.bool, device=state.graph.x.device)


class EnergySwitch(Switch):
    """A chain moves on once its *model* energy is at or below the typical energy of data of its size.

    Args:
        calibration: per-size thresholds (a :class:`Calibration`, its dict, or ``None``). Without one
            (here or at call time) the energy criterion never fires (a warning is logged once if ``energy``).
            Not part of the switch's config (:func:`~graph_energy.config.to_config` leaves it out).
        energy: use the energy criterion.
        on_arrival: switch a chain with no improving edit at once (otherwise it idles, without energy
            evaluations, until the step cap, as the reference does).
        margin: added to every threshold (positive = switch earlier).
    """

    def __init__(self, calibration: Calibration | dict | None = None, energy: bool = True,
                 on_arrival: bool = True, margin: float = 0.0) -> None:
        super().__init__(on_arrival)
        self.calibration = Calibration.from_dict(calibration) if isinstance(calibration, dict) else calibration
        if self.calibration is not None and not isinstance(self.calibration, Calibration):
            raise TypeError(f"calibration must be a Calibration or its dict, got {type(calibration).__name__}")
        self.energy, self.margin = bool(energy), float(margin)
        self._warned = False

    @property
    def uses_calibration(self) -> bool:
        return self.energy

    def thresholds(self, num_nodes: Tensor, calibration: Calibration | None = None) -> Tensor:
        """``(B,)`` float64 thresholds; ``-inf`` where the energy criterion is off."""
        cal = calibration if calibration is not None else self.calibration
        if not self.energy or cal is None:
            if self.energy and not self._warned:
                log.warning("energy switch requested but no calibration given; chains switch on arrival or "
                            "at the step cap only (run gem-calibrate or pass a calibration)")
                self._warned = True
            return torch.full(num_nodes.shape, float("-inf"), dtype=torch.float64, device=num_nodes.device)
        return cal.threshold_for(num_nodes) + self.margin

    def init_state(self, state: ChainView, calibration: Calibration | None = None) -> dict[str, Tensor]:
        return {"threshold": self.thresholds(state.graph.num_nodes, calibration)}

    def fired(self, state: ChainView, data: dict[str, Tensor]) -> Tensor:
        return state.eval.model_energy.double() <= data["threshold"]

    def to_config(self) -> dict:
        # thresholds belong to a checkpoint (or a calibration file), not to the sampler's config
        return {"_target_": target_name(self),
                **{k: to_config(v) for k, v in self._config_args.items() if k != "calibration"}}

    def __repr__(self) -> str:
        cal = None if self.calibration is None else f"q={self.calibration.quantile}"
        return (f"EnergySwitch(energy={self.energy}, on_arrival={self.on_arrival}, margin={self.margin}, "
                f"calibration={cal})")
