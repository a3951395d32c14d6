"""Published baseline rows printed beside our numbers (anchor values of the project's benchmark notes).

Each row names its source. Values are the anchors listed in the project's ``BENCHMARKS.md``; they
were transcribed, not recomputed, and should be checked against the cited papers before being
quoted. Columns map to keys of :attr:`EvalReport.metrics` (percentages are ×100 of our fractions).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BaselineRow", "Column", "baseline_table"]


@dataclass(frozen=True)
class Column:
    """A table column: header, our metric key, scale factor, and a format."""

    header: str
    key: str
    scale: float = 1.0
    fmt: str = "{:.3g}"


@dataclass(frozen=True)
class BaselineRow:
    model: str
    source: str
    values: dict  # header -> number or string (e.g. "0.25–0.36")


_QM9_COLS = (Column("Valid %", "validity", 100, "{:.1f}"), Column("Unique %", "uniqueness", 100, "{:.1f}"),
             Column("FCD ↓", "fcd/test", 1, "{:.3f}"), Column("NSPDK ↓", "nspdk/test", 1, "{:.1e}"))
_ZINC_COLS = (Column("Valid %", "validity", 100, "{:.1f}"), Column("FCD ↓", "fcd/test", 1, "{:.2f}"),
              Column("NSPDK ↓", "nspdk/test", 1, "{:.1e}"))
_MOSES_COLS = (Column("Valid %", "validity", 100, "{:.1f}"), Column("VUN %", "vun_largest_fragment", 100, "{:.1f}"),
               Column("FCD/TestSF ↓", "fcd/test_scaffolds", 1, "{:.2f}"))

_DIGRESS = "Vignac et al., DiGress, ICLR 2023"
_DEFOG = "Qin et al., DeFoG, ICML 2025"
_GRUM = "Jo et al., GruM, ICML 2024"
_GDSS = "Jo et al., GDSS, ICML 2022"

_TABLES: dict[str, tuple[tuple[Column, ...], tuple[BaselineRow, ...]]] = {
    "qm9": (_QM9_COLS, (
        BaselineRow("DiGress", _DIGRESS + " (FCD: reruns reported by later work)",
                    {"Valid %": 99.0, "Unique %": 96.2, "FCD ↓": "0.25–0.36", "NSPDK ↓": 3e-4}),
        BaselineRow("DeFoG", _DEFOG, {"Valid %": "~99.3", "Unique %": "~96.3", "FCD ↓": 0.27, "NSPDK ↓": 5e-4}),
        BaselineRow("GruM", _GRUM, {"Valid %": 99.7, "Unique %": 96.9, "FCD ↓": 0.11, "NSPDK ↓": 2e-4}),
        BaselineRow("GDSS", _GDSS, {"Valid %": 95.7, "Unique %": 98.5, "FCD ↓": 2.90, "NSPDK ↓": 3e-3}),
    )),
    "zinc250k": (_ZINC_COLS, (
        BaselineRow("GDSS", _GDSS, {"Valid %": 97.0, "FCD ↓": 14.7, "NSPDK ↓": 0.019}),
        BaselineRow("GruM", _GRUM, {"Valid %": 98.7, "FCD ↓": 2.26, "NSPDK ↓": 0.0015}),
        BaselineRow("DeFoG", _DEFOG, {"FCD ↓": 2.03, "NSPDK ↓": 0.002}),
    )),
    "moses": (_MOSES_COLS, (
        BaselineRow("DiGress", _DIGRESS, {"Valid %": 85.7, "FCD/TestSF ↓": 1.19}),
        BaselineRow("DisCo", "Xu et al., DisCo, NeurIPS 2024", {"Valid %": 88.3, "FCD/TestSF ↓": 1.44}),
        BaselineRow("Cometh", "Siraudin et al., Cometh, 2024", {"Valid %": 90.5, "FCD/TestSF ↓": 1.27}),
        BaselineRow("DeFoG", _DEFOG, {"Valid %": 92.8, "FCD/TestSF ↓": 1.95}),
        BaselineRow("GEM (reference release)", "GEM reference release (largest fragment, 25k samples)",
                    {"VUN %": 94.0, "FCD/TestSF ↓": 1.47}),
    )),
}


def baseline_table(dataset: str) -> tuple[tuple[Column, ...], tuple[BaselineRow, ...]]:
    """Columns and published rows for a dataset (empty if none are known, e.g. a custom SMILES set)."""
    return _TABLES.get(str(dataset).lower(), ((), ()))
