"""Objectives of the knob search, scored on *decoded samples* (larger is better).

Energy is never the objective: a kernel that drives every chain to one deep minimum has low energy
and no diversity.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from graph_energy.config import Configurable, instantiate
from graph_energy.samplers.state import SampleResult

__all__ = ["Objective", "ValidUnique", "Validity", "ConnectedValidUnique", "ValidUniquePerEvaluation",
           "ValidUniqueFCD", "build_objective"]

log = logging.getLogger(__name__)

_OLD_PREFIX = "graph_energy.samplers.search."  # where the objectives lived before this package


class Objective(Configurable):
    """Scores a batch of decoded samples; larger is better."""

    name = "objective"

    def __call__(self, result: SampleResult) -> float:
        raise NotImplementedError


class ValidUnique(Objective):
    """Fraction of samples that are valid and distinct (unique valid SMILES / samples)."""

    name = "valid_unique"

    def __call__(self, result: SampleResult) -> float:
        return result.summary()["valid_unique"]


class Validity(Objective):
    name = "validity"

    def __call__(self, result: SampleResult) -> float:
        return result.summary()["validity"]


class ConnectedValidUnique(Objective):
    """Distinct valid single-fragment molecules / samples."""

    name = "connected_valid_unique"

    def __call__(self, result: SampleResult) -> float:
        ok = {s for s in result.smiles if s is not None and "." not in s}
        return len(ok) / max(len(result), 1)


class ValidUniquePerEvaluation(Objective):
    """Valid-unique fraction minus ``cost`` per 1000 energy evaluations per molecule (rewards cheap kernels)."""

    name = "valid_unique_per_eval"

    def __init__(self, cost: float = 0.05) -> None:
        self.cost = float(cost)

    def __call__(self, result: SampleResult) -> float:
        s = result.summary()
        return s["valid_unique"] - self.cost * s["evaluations_per_molecule"] / 1000.0


class ValidUniqueFCD(Objective):
    """Valid-unique fraction minus ``weight`` × FCD of the valid samples against a *held-out* split.

    Rewards kernels whose samples match the data distribution, not only valid ones. The reference is
    the dataset's validation split by default (never the test split the final evaluation uses); its
    ChemNet statistics are computed once and cached. Samples are reduced to their largest fragment
    (the DiGress-protocol rule). A batch with fewer than 2 valid samples scores ``-inf``.

    Args:
        dataset: dataset name or option mapping (as in ``conf/dataset/*.yaml``).
        split: reference split (``val`` by default).
        weight: score cost of one FCD unit (0.1: an FCD gain of 0.5 is worth 5 points of validity).
        max_reference: at most this many reference molecules (a seeded random subset).
    """

    name = "valid_unique_fcd"

    def __init__(self, dataset="qm9", split: str = "val", weight: float = 0.1, max_reference: int = 10000) -> None:
        self.dataset, self.split = dataset, split
        self.weight, self.max_reference = float(weight), int(max_reference)
        self._ref = None

    def reference(self):
        if self._ref is None:
            import numpy as np

            from graph_energy.metrics.evaluator import canonical_reference
            from graph_energy.metrics.fcd import reference_stats
            from graph_energy.metrics.reference import dataset_split_smiles

            ref = dataset_split_smiles(self.dataset, self.split)
            if len(ref) > self.max_reference:
                pick = np.random.default_rng(0).choice(len(ref), self.max_reference, replace=False)
                ref = [ref[i] for i in sorted(pick)]
            self._ref = reference_stats(canonical_reference(ref, n_jobs=1))
        return self._ref

    def __call__(self, result: SampleResult) -> float:
        from graph_energy.metrics.fcd import fcd
        from graph_energy.metrics.validity import valid_canonical

        valid = [c for c in valid_canonical([s or "" for s in result.smiles], "largest_fragment", n_jobs=1) if c]
        if len(valid) < 2:
            return float("-inf")
        return result.summary()["valid_unique"] - self.weight * fcd(valid, self.reference())



def build_objective(cfg: Mapping | Objective | None, *, trusted: bool = False) -> Objective:
    """An :class:`Objective` from its ``_target_`` config (``None``: :class:`ValidUnique`).

    The objectives' former dotted names ``graph_energy.samplers.search.<Name>`` (configs written before
    this package existed) still work, with a deprecation warning.
    """
    if cfg is None:
        return ValidUnique()
    if isinstance(cfg, Objective):
        return cfg
    if not isinstance(cfg, Mapping):
        raise TypeError(f"an objective config is a mapping with _target_, got {type(cfg).__name__}")
    node = dict(cfg)
    target = str(node.get("_target_", ""))
    if target.startswith(_OLD_PREFIX):
        new = __name__.rsplit(".", 1)[0] + "." + target[len(_OLD_PREFIX):]
        log.warning("objective _target_ %s is deprecated; use %s", target, new)
        node["_target_"] = new
    obj = instantiate(node, trusted=trusted)
    if not isinstance(obj, Objective):
        raise TypeError(f"objective config built a {type(obj).__name__}, expected a graph_energy.calibration.Objective")
    return obj
