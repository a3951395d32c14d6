"""Extra energy terms for the sampler's target ``E_θ + Σ_k w_k·P_k`` (METHOD.md §4).

* exact properties of the decoded molecule (:class:`PropertyTerm`: logP, QED, SA, weight, TPSA,
  rings, heavy atoms, element counts, SMARTS counts), entering the MH acceptance only;
* learned property predictors (:class:`PredictorTerm`), differentiable: they also shape the proposal;
* other energy models (:class:`ExpertTerm`) and weighted sums of models (:func:`compose`);

each shaped by a :class:`Target`, :class:`Window`, :class:`Bound` or :class:`Hard` penalty, and built
from plain configs (:func:`build_terms`, the ``conf/terms/`` presets).
"""

from graph_energy.terms.build import (
    PRESET_DIR,
    bind_terms,
    build_terms,
    describe_terms,
    expert_term,
    make_penalty,
    predictor_term,
    preset,
    property_term,
)
from graph_energy.terms.cache import CacheEntry, CacheStats, MoleculeCache, graph_keys
from graph_energy.terms.exact import DEFAULT_INVALID_PENALTY, PropertyTerm
from graph_energy.terms.learned import PredictorTerm, PropertyPredictor, load_predictor
from graph_energy.terms.models import ExpertTerm
from graph_energy.terms.penalties import Bound, Hard, Penalty, Target, Window
from graph_energy.terms.properties import (
    PROPERTY_NAMES,
    QED,
    TPSA,
    ElementCount,
    HeavyAtomCount,
    LogP,
    MolWeight,
    Property,
    RingCount,
    SAScore,
    SubstructureCount,
    property_by_name,
)

__all__ = [
    "PropertyTerm", "PredictorTerm", "PropertyPredictor", "ExpertTerm", "load_predictor",
    "Penalty", "Target", "Window", "Bound", "Hard",
    "Property", "LogP", "QED", "SAScore", "MolWeight", "TPSA", "RingCount", "HeavyAtomCount", "ElementCount",
    "SubstructureCount", "PROPERTY_NAMES", "property_by_name",
    "MoleculeCache", "CacheEntry", "CacheStats", "graph_keys", "DEFAULT_INVALID_PENALTY",
    "build_terms", "bind_terms", "describe_terms", "make_penalty", "property_term", "predictor_term",
    "expert_term", "preset", "PRESET_DIR", "compose", "ComposedModel", "ComposedEnergy",
]


def __getattr__(name):
    # compose needs graph_energy.api; import it on first use so that `graph_energy.terms` stays light
    if name in ("compose", "ComposedModel", "ComposedEnergy", "composed_calibration"):
        from graph_energy.terms import composition as _compose

        return getattr(_compose, name)
    raise AttributeError(f"module 'graph_energy.terms' has no attribute {name!r}")
