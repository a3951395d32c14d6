"""Evaluation metrics for generated molecules and one evaluator for the published protocols.

Submodules: ``validity`` (validity/uniqueness/novelty/VUN), ``fcd``, ``nspdk``, ``moses``,
``distributions`` (property W1, atom/bond-type TV), ``protocol``, ``evaluator``, ``report``, ``io``.
Names below are imported lazily so that ``import graph_energy.metrics.<sub>`` stays light (no
torch/ChemNet unless FCD is used).
"""

from importlib import import_module

_EXPORTS = {
    "Evaluator": "evaluator", "EvalReport": "report", "Protocol": "protocol", "ReferenceSet": "reference",
    "GaussianStats": "fcd", "frechet_distance": "fcd", "nspdk_mmd": "nspdk", "filters": "moses",
    "passes_filters": "moses", "snn": "moses", "internal_diversity": "moses", "read_smiles": "io",
    "novelty": "validity", "uniqueness": "validity", "valid_canonical": "validity", "validity": "validity",
    "vun": "validity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"graph_energy.metrics.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'graph_energy.metrics' has no attribute {name!r}")
