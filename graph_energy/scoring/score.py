"""Scoring molecules with a trained energy: energies, per-size comparison, ranking, OOD flags, reasons.

Lower energy = more like the training data. Raw energies compare exactly only between molecules
of the same size; the size-normalised ``z`` (see :mod:`graph_energy.scoring.reference`) compares
across sizes and drives the ranking (rank 1 = most data-like; ties broken by energy, then input
order). Molecules the model cannot represent keep their row, with ``energy = NaN``, no rank and a
``reason``.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from graph_energy.chem.convert import graphs_to_labels
from graph_energy.chem.represent import Representation, represent_all
from graph_energy.data.dense import DenseGraph
from graph_energy.samplers.thresholds import data_energies
from graph_energy.scoring.reference import ScoreReference

__all__ = ["ScoreRow", "ScoreReport", "score_smiles", "score_graphs", "graph_energies"]


@dataclass
class ScoreRow:
    """One scored entry.

    Attributes:
        index: position in the input.
        input: the given string; smiles: its canonical SMILES (``""`` if unparsable).
        num_nodes: heavy atoms; energy: model energy (NaN when not representable).
        reference_median, reference_threshold: the same-size reference median and OOD threshold.
        percentile: fraction of same-size reference graphs with energy at or below this one.
        z: size-normalised score ``(energy − median) / scale``.
        ood: energy above the same-size threshold.
        rank: 1 = most data-like by ``z`` (``None`` when not representable).
        reason: why the model cannot represent it (``""`` if it can); codes: the reason codes.
    """

    index: int
    input: str
    smiles: str
    num_nodes: int
    energy: float
    reference_median: float
    reference_threshold: float
    percentile: float
    z: float
    ood: bool
    rank: int | None
    reason: str = ""
    codes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reason


@dataclass
class ScoreReport:
    """Scores of a list of molecules (one :class:`ScoreRow` per input, in input order)."""

    rows: list[ScoreRow]
    reference: ScoreReference

    def __len__(self) -> int:
        return len(self.rows)

    def _col(self, name: str, dtype=np.float64) -> np.ndarray:
        return np.asarray([getattr(r, name) for r in self.rows], dtype=dtype)

    @property
    def energies(self) -> np.ndarray:
        """``(n,)`` float64, NaN where not representable."""
        return self._col("energy")

    @property
    def z(self) -> np.ndarray:
        return self._col("z")

    @property
    def ood(self) -> np.ndarray:
        return self._col("ood", bool)

    @property
    def representable(self) -> np.ndarray:
        return np.asarray([r.ok for r in self.rows], dtype=bool)

    def ranked(self) -> list[ScoreRow]:
        """Representable rows, most data-like first."""
        return sorted((r for r in self.rows if r.rank is not None), key=lambda r: r.rank)

    def records(self) -> list[dict]:
        """One plain dict per row (codes joined by ``|``), e.g. for pandas or a CSV."""
        out = []
        for r in self.rows:
            d = asdict(r)
            d["codes"] = "|".join(r.codes)
            out.append(d)
        return out

    def to_csv(self, path: str | os.PathLike) -> None:
        rows = self.records()
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["index"])
            w.writeheader()
            w.writerows(rows)

    def summary(self) -> dict:
        """Counts, OOD fraction among representable rows, mean energy / z, reason counts."""
        ok = self.representable
        e, z = self.energies[ok], self.z[ok]
        reasons = Counter(c for r in self.rows for c in r.codes)
        return {"num_molecules": len(self.rows), "representable": int(ok.sum()),
                "ood": int(self.ood.sum()), "ood_fraction": float(self.ood[ok].mean()) if ok.any() else None,
                "mean_energy": float(e.mean()) if e.size else None, "mean_z": float(z.mean()) if z.size else None,
                "reasons": dict(sorted(reasons.items())),
                "reference": {"split": self.reference.split, "ood_quantile": self.reference.ood_quantile}}


def graph_energies(model, graph: DenseGraph, batch_size: int = 256) -> np.ndarray:
    """Model energies ``(B,)`` float64 of a dense batch, ``batch_size`` graphs at a time."""
    if graph.batch_size == 0:
        return np.zeros(0)
    return data_energies(model, graph, batch_size)[0].numpy()


def _rows(reps: Sequence[Representation | None], energy: np.ndarray, num_nodes: np.ndarray,
          reference: ScoreReference, inputs: Sequence[str]) -> list[ScoreRow]:
    cmp = reference.compare(energy, num_nodes)
    ok = np.isfinite(energy)
    order = sorted(np.nonzero(ok)[0].tolist(), key=lambda i: (cmp["z"][i], energy[i], i))
    rank = {i: k + 1 for k, i in enumerate(order)}
    rows = []
    for i in range(len(energy)):
        rep = reps[i]
        rows.append(ScoreRow(i, inputs[i], (rep.smiles or "") if rep is not None else "", int(num_nodes[i]),
                             float(energy[i]), float(cmp["center"][i]), float(cmp["threshold"][i]),
                             float(cmp["percentile"][i]), float(cmp["z"][i]), bool(cmp["ood"][i]), rank.get(i),
                             rep.reason if rep is not None else "", list(rep.codes) if rep is not None else []))
    return rows


def score_smiles(model, spec, smiles: str | Sequence[str], reference: ScoreReference, batch_size: int = 256,
                 device: str | torch.device = "cpu") -> ScoreReport:
    """Score SMILES strings (any list; unrepresentable ones get a reason instead of an energy).

    Args:
        model: energy model ``model(graph) -> (B,)`` in eval mode.
        spec: the model's :class:`~graph_energy.data.MolecularSpec`.
        reference: per-size reference statistics (:func:`~graph_energy.scoring.reference_for_model`).
    """
    if isinstance(smiles, str):
        smiles = [smiles]
    smiles = list(smiles)
    reps = represent_all(smiles, spec)
    energy = np.full(len(reps), np.nan)
    good = [i for i, r in enumerate(reps) if r.ok]
    if good:
        labels = graphs_to_labels([reps[i].graph for i in good], max_nodes=spec.max_nodes)
        graph = DenseGraph.from_labels(labels.x, labels.e, labels.node_mask, spec.num_atom_types,
                                       spec.num_bond_types).to(device)
        energy[good] = graph_energies(model, graph, int(batch_size))
    num_nodes = np.asarray([r.num_nodes for r in reps], dtype=np.int64)
    return ScoreReport(_rows(reps, energy, num_nodes, reference, [r.input for r in reps]), reference)


def score_graphs(model, graph: DenseGraph, reference: ScoreReference, batch_size: int = 256,
                 names: Sequence[str] | None = None) -> ScoreReport:
    """Score a dense batch of graphs directly (e.g. noise graphs that decode to no molecule)."""
    energy = graph_energies(model, graph, int(batch_size))
    num_nodes = graph.num_nodes.cpu().numpy().astype(np.int64)
    inputs = list(names) if names is not None else [f"graph {i}" for i in range(graph.batch_size)]
    return ScoreReport(_rows([None] * graph.batch_size, energy, num_nodes, reference, inputs), reference)
