"""The energy-based switch from transport to mixing and its per-size calibration (METHOD.md §3.2).

A chain leaves transport when its model energy reaches the typical energy of real data of its node
count (a per-size quantile of held-out data energies), when it has arrived (no improving edit), or
at the transport step cap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph

__all__ = ["Calibration", "calibrate_thresholds", "held_out_graphs", "EnergySwitch", "SwitchReason"]

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


def held_out_graphs(dataset_cfg: dict, spec, split: str, num_graphs: int, batch_size: int = 256, seed: int = 0):
    """Dense batches of ``num_graphs`` graphs drawn at random (seeded) from a split.

    A random subset, not the first graphs: stored splits may be ordered (e.g. by size), and every
    node count needs its own share of graphs.
    """
    from torch_geometric.loader import DataLoader

    from graph_energy.data import load_dataset

    data = load_dataset(dataset_cfg)
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test; got {split!r}")
    ds = getattr(data, split)
    pick = torch.randperm(len(ds), generator=torch.Generator().manual_seed(int(seed)))[: min(int(num_graphs), len(ds))]
    ds = ds[pick.sort().values]
    for batch in DataLoader(ds, batch_size=batch_size, shuffle=False):
        yield DenseGraph.from_pyg(batch, spec.num_atom_types, spec.num_bond_types)


class EnergySwitch:
    """When a transport chain starts mixing.

    Args:
        calibration: per-size thresholds (a :class:`Calibration`, its dict, or ``None``). Without one the
            energy criterion never fires (a warning is logged once if ``energy=True``).
        energy: use the energy criterion.
        on_arrival: switch a chain with no improving edit at once (otherwise it idles, without energy
            evaluations, until the step cap, as the reference does).
        margin: added to every threshold (positive = switch earlier).
    """

    def __init__(self, calibration: Calibration | dict | None = None, energy: bool = True,
                 on_arrival: bool = True, margin: float = 0.0) -> None:
        self.calibration = Calibration.from_dict(calibration) if isinstance(calibration, dict) else calibration
        self.energy, self.on_arrival, self.margin = bool(energy), bool(on_arrival), float(margin)
        self._warned = False

    def thresholds(self, num_nodes: Tensor) -> Tensor:
        """``(B,)`` float64 thresholds; ``-inf`` where the energy criterion is off."""
        if not self.energy or self.calibration is None:
            if self.energy and not self._warned:
                log.warning("energy switch requested but no calibration given; chains switch on arrival or "
                            "at the step cap only (run gem-calibrate or pass a calibration)")
                self._warned = True
            return torch.full(num_nodes.shape, float("-inf"), dtype=torch.float64, device=num_nodes.device)
        return self.calibration.threshold_for(num_nodes) + self.margin

    def __repr__(self) -> str:
        cal = None if self.calibration is None else f"q={self.calibration.quantile}"
        return (f"EnergySwitch(energy={self.energy}, on_arrival={self.on_arrival}, margin={self.margin}, "
                f"calibration={cal})")
