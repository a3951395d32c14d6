"""Does a term ask for something the data has? Property ranges of a dataset and the warning when a window misses them."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from graph_energy.samplers.target import EnergyTerm
from graph_energy.terms.exact import PropertyTerm
from graph_energy.terms.properties import Property

__all__ = ["property_range", "check_term_ranges"]

log = logging.getLogger(__name__)


def property_range(prop: Property, smiles: Sequence[str], max_molecules: int = 2000, seed: int = 0
                   ) -> tuple[float, float] | None:
    """``(min, max)`` of ``prop`` over (a fixed random sample of) ``smiles``; ``None`` if no molecule parses."""
    from rdkit import Chem

    from graph_energy.chem.convert import quiet_rdkit

    smiles = list(smiles)
    if len(smiles) > max_molecules:
        pick = np.random.default_rng(seed).choice(len(smiles), max_molecules, replace=False)
        smiles = [smiles[i] for i in sorted(pick.tolist())]
    values = []
    with quiet_rdkit():
        for s in smiles:
            mol = Chem.MolFromSmiles(s)
            if mol is None:
                continue
            try:
                v = float(prop(mol))
            except Exception:  # noqa: BLE001 - RDKit descriptors raise assorted errors on odd molecules
                continue
            if math.isfinite(v):
                values.append(v)
    return (min(values), max(values)) if values else None


def check_term_ranges(terms: Sequence[EnergyTerm], smiles: Sequence[str], what: str = "the training data",
                      max_molecules: int = 2000) -> dict[str, bool]:
    """Warn (log) for every property term whose window or target misses the property's range in ``smiles``,
    and for every predictor term whose interval misses its training labels' range. Returns ``name -> ok``."""
    out = {}
    for t in terms:
        if isinstance(t, PropertyTerm):
            rng = property_range(t.property, smiles, max_molecules)
            if rng is not None:
                out[t.name] = t.check_range(*rng, what)
        elif hasattr(t, "check_range") and getattr(t, "label_range", None) is not None:
            out[t.name] = t.check_range(*t.label_range, "its predictor's training labels")
    return out
