"""Evaluation protocols: which split is the reference, the validity rule, kekulization, sample count.

A protocol is data (``conf/protocol/<name>.yaml``); :meth:`Protocol.from_name` reads the shipped
file without Hydra so library users get the same definitions as ``gem-evaluate protocol=<name>``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from graph_energy.metrics.validity import RULES

__all__ = ["Protocol", "METRIC_GROUPS"]

#: Metric groups a protocol may request.
METRIC_GROUPS = ("basic", "fcd", "nspdk", "moses", "properties", "types")


@dataclass(frozen=True)
class Protocol:
    """Fixed evaluation settings, named in every report.

    Attributes:
        name: protocol name (``digress``, ``gdss``, ``moses``).
        validity_rule: rule of the headline validity/uniqueness/novelty and of the molecules fed
            to FCD, NSPDK and the MOSES metrics (``strict``, ``connected``, ``largest_fragment``).
        kekulize: kekulize molecules before counting bond types (NSPDK is always kekulized).
        num_samples: the sample count published numbers use; fewer samples → a report warning.
        references: dataset splits used as reference sets (first one is the primary reference).
        train_split: split used for novelty.
        metrics: metric groups to compute (subset of :data:`METRIC_GROUPS`).
        unique_at: MOSES ``unique@k`` values to report.
        moses_precomputed: for MOSES references, use the statistics shipped with ``molsets``
            (``<split>_stats.npz``: FCD mean/cov, fingerprints, fragment and scaffold counts,
            properties) as the MOSES package does, instead of recomputing them.
        description: one line for the report.
    """

    name: str
    validity_rule: str = "largest_fragment"
    kekulize: bool = False
    num_samples: int = 10_000
    references: tuple[str, ...] = ("test",)
    train_split: str = "train"
    metrics: tuple[str, ...] = ("basic", "fcd", "nspdk", "properties", "types")
    unique_at: tuple[int, ...] = ()
    moses_precomputed: bool = False
    description: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.validity_rule not in RULES:
            raise ValueError(f"protocol {self.name!r}: validity_rule {self.validity_rule!r} not in {RULES}")
        object.__setattr__(self, "references", tuple(self.references))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "unique_at", tuple(int(k) for k in self.unique_at))
        bad = [m for m in self.metrics if m not in METRIC_GROUPS]
        if bad:
            raise ValueError(f"protocol {self.name!r}: unknown metric groups {bad}; choose from {METRIC_GROUPS}")
        if not self.references:
            raise ValueError(f"protocol {self.name!r}: needs at least one reference split")
        if self.num_samples < 1:
            raise ValueError(f"protocol {self.name!r}: num_samples must be positive, got {self.num_samples}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["references"] = list(self.references)
        d["metrics"] = list(self.metrics)
        d["unique_at"] = list(self.unique_at)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Protocol:
        d = {k: v for k, v in dict(d).items() if k != "_target_"}
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown protocol field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)

    @classmethod
    def from_name(cls, name: str) -> Protocol:
        """Load ``graph_energy/conf/protocol/<name>.yaml``."""
        import yaml

        folder = Path(__file__).resolve().parent.parent / "conf" / "protocol"
        path = folder / f"{name}.yaml"
        if not path.is_file():
            have = sorted(p.stem for p in folder.glob("*.yaml"))
            raise ValueError(f"unknown protocol {name!r}; available: {have}")
        with open(path) as fh:
            return cls.from_dict(yaml.safe_load(fh))
