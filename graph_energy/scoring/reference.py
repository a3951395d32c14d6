"""Per-size reference energies of held-out data: what a score is compared to.

The model's energy level depends on the node count (QM9: the median validation energy of 9-atom
graphs is about 1.7 lower than that of 6-atom graphs), so a molecule is compared with held-out data
graphs *of its own size*: its percentile among them, a robust z-score
``z = (E − median_n) / scale_n`` (``scale_n`` = interquartile range / 1.349) and an out-of-distribution
flag ``E > threshold_n`` with ``threshold_n`` the ``ood_quantile`` of those energies (a false-positive
rate of ``1 − ood_quantile`` on the split the reference came from).

Pooling: a size with fewer than ``min_count`` reference graphs borrows the graphs of the nearest
sizes (nearest first, the smaller size on a tie) until it has ``min_count``; sizes with no graph at
all (up to ``max_nodes``) are filled the same way. Each size records which sizes it pooled.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["SizeReference", "ScoreReference", "build_reference", "LEVELS"]

log = logging.getLogger(__name__)

#: Quantile levels stored per size (percentiles are interpolated between them).
LEVELS = tuple(round(i / 100, 2) for i in range(101))
_IQR_TO_STD = 1.349  # interquartile range of a standard normal


@dataclass
class SizeReference:
    """Reference energies of one node count.

    Attributes:
        count: graphs behind the statistics (after pooling).
        pooled: the node counts whose graphs were used (``[n]`` when the size had enough itself).
        values: energy at each of :data:`LEVELS` (non-decreasing), length 101.
        center: median energy; scale: robust standard deviation (> 0).
        threshold: the out-of-distribution threshold (``ood_quantile`` of the energies).
    """

    count: int
    pooled: list[int]
    values: list[float]
    center: float
    scale: float
    threshold: float

    def percentile(self, energy: np.ndarray) -> np.ndarray:
        """Fraction of reference energies at or below each ``energy`` (interpolated), in ``[0, 1]``."""
        v = np.asarray(self.values, dtype=np.float64)
        return np.interp(np.asarray(energy, dtype=np.float64), v, np.asarray(LEVELS), left=0.0, right=1.0)


@dataclass
class ScoreReference:
    """Per-size reference statistics of held-out data energies (module docstring).

    Attributes:
        sizes: node count -> :class:`SizeReference` (every size from 1 to ``max_nodes``).
        split: the data split the energies came from (``"val"``).
        ood_quantile: quantile used for the thresholds.
        min_count: pooling threshold.
        source: free-form description (dataset, number of graphs, model fingerprint).
    """

    sizes: dict[int, SizeReference]
    split: str = "val"
    ood_quantile: float = 0.99
    min_count: int = 50
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sizes:
            raise ValueError("a score reference needs at least one node count")
        self.sizes = {int(k): v for k, v in self.sizes.items()}

    @property
    def max_nodes(self) -> int:
        return max(self.sizes)

    def size(self, n: int) -> SizeReference:
        """Statistics for node count ``n`` (the nearest stored size outside the stored range)."""
        n = int(n)
        if n in self.sizes:
            return self.sizes[n]
        nearest = min(self.sizes, key=lambda s: (abs(s - n), s))
        return self.sizes[nearest]

    def compare(self, energy: np.ndarray, num_nodes: np.ndarray) -> dict[str, np.ndarray]:
        """Per molecule: ``center``, ``scale``, ``threshold``, ``percentile``, ``z`` and ``ood`` arrays ``(n,)``.

        ``energy`` may hold NaN (molecules that could not be scored); their entries are NaN / False.
        """
        energy = np.asarray(energy, dtype=np.float64)
        num_nodes = np.asarray(num_nodes, dtype=np.int64)
        out = {k: np.full(energy.shape, np.nan) for k in ("center", "scale", "threshold", "percentile", "z")}
        ok = np.isfinite(energy) & (num_nodes > 0)
        for n in np.unique(num_nodes[ok]):
            sel = ok & (num_nodes == n)
            ref = self.size(int(n))
            out["center"][sel], out["scale"][sel], out["threshold"][sel] = ref.center, ref.scale, ref.threshold
            out["percentile"][sel] = ref.percentile(energy[sel])
            out["z"][sel] = (energy[sel] - ref.center) / ref.scale
        out["ood"] = ok & (energy > np.nan_to_num(out["threshold"], nan=np.inf))
        return out

    # ------------------------------------------------------------------ plain data
    def to_dict(self) -> dict:
        return {"split": self.split, "ood_quantile": self.ood_quantile, "min_count": self.min_count,
                "source": self.source, "levels": list(LEVELS),
                "sizes": {str(n): vars(r) for n, r in sorted(self.sizes.items())}}

    @classmethod
    def from_dict(cls, d: dict) -> ScoreReference:
        try:
            if list(d.get("levels", LEVELS)) != list(LEVELS):
                raise ValueError("this score reference uses other quantile levels; recompute it")
            sizes = {int(n): SizeReference(**r) for n, r in d["sizes"].items()}
            return cls(sizes, d.get("split", "val"), float(d.get("ood_quantile", 0.99)),
                       int(d.get("min_count", 50)), dict(d.get("source", {})))
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a score reference dict ({err}); write one with ScoreReference.save") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> ScoreReference:
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no score reference at {path}; write one with gem-score or ScoreReference.save")
        return cls.from_dict(json.loads(path.read_text()))


def _pool(by_size: dict[int, np.ndarray], n: int, min_count: int) -> tuple[list[int], np.ndarray]:
    order = sorted(by_size, key=lambda s: (abs(s - n), s))
    used, parts, total = [], [], 0
    for s in order:
        if total >= min_count:
            break
        used.append(s)
        parts.append(by_size[s])
        total += len(by_size[s])
    return sorted(used), np.concatenate(parts)


def build_reference(energy: np.ndarray, num_nodes: np.ndarray, max_nodes: int | None = None,
                    ood_quantile: float = 0.99, min_count: int = 50, split: str = "val",
                    source: dict | None = None) -> ScoreReference:
    """:class:`ScoreReference` from held-out data energies ``(M,)`` and their node counts ``(M,)``.

    Args:
        max_nodes: fill every size ``1..max_nodes`` (default: the largest size seen).
        ood_quantile: in ``(0, 1)``; the per-size out-of-distribution threshold.
        min_count: a size with fewer graphs pools the nearest sizes (module docstring).
    """
    energy = np.asarray(energy, dtype=np.float64).reshape(-1)
    num_nodes = np.asarray(num_nodes, dtype=np.int64).reshape(-1)
    if energy.shape != num_nodes.shape or energy.size == 0:
        raise ValueError(f"need matching non-empty energies and node counts, got {energy.shape} and {num_nodes.shape}")
    if not np.isfinite(energy).all():
        raise ValueError("reference energies contain NaN/inf; check the model and the data graphs")
    if not 0.0 < float(ood_quantile) < 1.0:
        raise ValueError(f"ood_quantile must be in (0, 1), got {ood_quantile}")
    if int(min_count) < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    by_size = {int(n): np.sort(energy[num_nodes == n]) for n in np.unique(num_nodes)}
    top = int(max_nodes) if max_nodes is not None else max(by_size)
    sizes = {}
    for n in range(1, max(top, max(by_size)) + 1):
        pooled, e = _pool(by_size, n, int(min_count))
        q = np.quantile(e, LEVELS)
        scale = (q[75] - q[25]) / _IQR_TO_STD
        if not scale > 0:  # a handful of identical energies: fall back to the spread of all sizes
            scale = max(float(np.std(energy)), 1e-6)
        sizes[n] = SizeReference(int(e.size), pooled, [float(v) for v in q], float(q[50]), float(scale),
                                 float(np.quantile(e, float(ood_quantile))))
    return ScoreReference(sizes, split, float(ood_quantile), int(min_count), dict(source or {}))
