"""Calibration of a checkpoint's sampler: per-size energy-switch thresholds from held-out data, and a
search over the kernel knobs (by config path) scored on decoded samples.

Sits above :mod:`graph_energy.samplers` and :mod:`graph_energy.metrics` (the FCD objective).
"""

from graph_energy.calibration.held_out import held_out_graphs
from graph_energy.calibration.objectives import (
    ConnectedValidUnique,
    Objective,
    Validity,
    ValidUnique,
    ValidUniqueFCD,
    ValidUniquePerEvaluation,
    build_objective,
)
from graph_energy.calibration.search import (
    SearchResult,
    SearchRow,
    apply_knobs,
    flatten_grid,
    get_knobs,
    knob_value,
    search_knobs,
)
from graph_energy.samplers.thresholds import (
    Calibration,
    PerSizeQuantile,
    PooledQuantile,
    ThresholdEstimator,
    calibrate_thresholds,
)

__all__ = ["held_out_graphs", "Calibration", "calibrate_thresholds", "ThresholdEstimator", "PooledQuantile",
           "PerSizeQuantile", "Objective", "ValidUnique", "Validity",
           "ConnectedValidUnique", "ValidUniquePerEvaluation", "ValidUniqueFCD", "build_objective",
           "SearchRow", "SearchResult", "search_knobs", "flatten_grid", "knob_value", "get_knobs", "apply_knobs"]
