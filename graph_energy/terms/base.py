"""Helpers shared by the terms: weights from temperatures, and the vocabulary check of model/predictor terms."""

from __future__ import annotations

import math

from graph_energy.data.spec import MolecularSpec

__all__ = ["check_vocabulary", "term_weight"]


def check_vocabulary(term_spec: MolecularSpec | None, model_spec: MolecularSpec | None, what: str) -> None:
    """Raise ``ValueError`` if ``term_spec`` and ``model_spec`` encode graphs differently.

    Atom classes, bond classes and the Kekulé flag must agree (the one-hot layouts are then equal);
    ``max_nodes`` may differ. ``None`` on either side skips the check.
    """
    if term_spec is None or model_spec is None:
        return
    for field in ("atom_types", "bond_types", "kekulize"):
        a, b = getattr(term_spec, field), getattr(model_spec, field)
        if a != b:
            fmt = (lambda v: list(v)) if isinstance(a, tuple) else (lambda v: v)
            raise ValueError(f"{what} was trained on another vocabulary ({field} {fmt(a)} vs the sampled model's "
                             f"{fmt(b)}); use a term trained on the same dataset encoding")


def term_weight(weight: float, temperature: float | None, what: str) -> float:
    """``1 / temperature`` when a temperature is given, else ``weight`` (both checked)."""
    if temperature is not None:
        t = float(temperature)
        if not (t > 0 and math.isfinite(t)):
            raise ValueError(f"temperature of {what} must be a positive finite number, got {temperature!r}")
        return 1.0 / t
    w = float(weight)
    if not math.isfinite(w):
        raise ValueError(f"weight of {what} must be finite, got {weight!r}")
    return w
