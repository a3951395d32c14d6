"""The evaluation report: a dataclass with JSON and markdown renderings."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from graph_energy.metrics.baselines import baseline_table

__all__ = ["EvalReport"]

# (key, label) of the metrics table, in order; keys with a "/" suffix are per reference.
_LABELS = {
    "validity": "Validity (protocol rule)",
    "validity_strict": "Validity, whole molecule",
    "validity_connected": "Validity, connected (single fragment)",
    "validity_largest_fragment": "Validity, largest fragment",
    "uniqueness": "Uniqueness (among valid)",
    "novelty": "Novelty (unique valid not in train)",
    "vun": "VUN (protocol rule)",
    "vun_connected": "VUN, connected",
    "vun_largest_fragment": "VUN, largest fragment (disconnected counted)",
    "fcd": "FCD ↓",
    "nspdk": "NSPDK MMD ↓",
    "snn": "SNN",
    "frag": "Frag",
    "scaf": "Scaf",
    "filters": "Filters",
    "intdiv1": "IntDiv1",
    "intdiv2": "IntDiv2",
    "w1_logP": "W1 logP ↓",
    "w1_QED": "W1 QED ↓",
    "w1_SA": "W1 SA ↓",
    "w1_MW": "W1 MW ↓",
    "tv_atom_types": "TV atom types ↓",
    "tv_bond_types": "TV bond types ↓",
}


def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    v = float(v)
    if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e4):
        return f"{v:.3e}"
    return f"{v:.4f}"


def _label(key: str) -> str:
    base, _, ref = key.partition("/")
    if base.startswith("unique@"):
        text = f"Unique@{base.split('@')[1]}"
    else:
        text = _LABELS.get(base, base)
    return f"{text} vs {ref}" if ref else text


@dataclass
class EvalReport:
    """Results of one evaluation.

    Attributes:
        protocol: protocol name; ``protocol_config`` holds all its settings.
        dataset: dataset name (``custom`` for user files).
        num_samples: number of generated samples evaluated (invalid ones included).
        metrics: flat ``{name: value}``; per-reference values are ``name/<split>``.
        references: ``{split: size}`` of the reference sets; ``train_size`` for novelty.
        timings: wall seconds per metric group.
        warnings: conditions that make numbers incomparable to published ones.
    """

    protocol: str
    dataset: str
    num_samples: int
    metrics: dict[str, float]
    references: dict[str, int]
    train_size: int
    protocol_config: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    samples_source: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["metrics"] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.metrics.items()}
        return d

    def to_json(self) -> str:
        """One-line JSON (NaN written as null)."""
        return json.dumps(self.to_dict(), sort_keys=False, separators=(",", ":"))

    def to_markdown(self) -> str:
        lines = [f"# Evaluation: {self.dataset}, protocol `{self.protocol}`", ""]
        if self.samples_source:
            lines.append(f"- samples: `{self.samples_source}`")
        cfg = self.protocol_config
        lines += [f"- protocol: `{self.protocol}` — {cfg.get('description', '')}",
                  f"- sample count: **{self.num_samples}** (protocol: {cfg.get('num_samples', '?')})",
                  f"- validity rule: `{cfg.get('validity_rule', '?')}`; kekulize: {cfg.get('kekulize', '?')}",
                  "- references: " + ", ".join(f"{k} ({v} molecules)" for k, v in self.references.items())
                  + f"; novelty vs train ({self.train_size} molecules)"]
        if self.timings:
            total = sum(self.timings.values())
            lines.append("- wall time: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
                         + f" (total {total:.1f}s)")
        if self.warnings:
            lines += ["", "**Warnings**", ""] + [f"- ⚠ {w}" for w in self.warnings]
        lines += ["", "## All metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {_label(k)} | {_fmt(v)} |" for k, v in self.metrics.items()]
        cols, rows = baseline_table(self.dataset)
        if cols:
            lines += ["", "## Beside published numbers", "",
                      "Published rows are anchor values from the project's benchmark notes, transcribed "
                      "from the cited papers (not recomputed here); compare only at the same protocol "
                      "and sample count.", ""]
            lines.append("| model | " + " | ".join(c.header for c in cols) + " | source |")
            lines.append("|---" * (len(cols) + 2) + "|")
            ours = []
            for c in cols:
                v = self.metrics.get(c.key)
                ours.append("n/a" if v is None or (isinstance(v, float) and math.isnan(v))
                            else c.fmt.format(v * c.scale))
            lines.append("| **this file** | " + " | ".join(ours)
                         + f" | this evaluation ({self.protocol}, n={self.num_samples}) |")
            for r in rows:
                vals = []
                for c in cols:
                    v = r.values.get(c.header)
                    vals.append("–" if v is None else (v if isinstance(v, str) else c.fmt.format(v)))
                lines.append(f"| {r.model} | " + " | ".join(vals) + f" | {r.source} |")
        return "\n".join(lines) + "\n"
