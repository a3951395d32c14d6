"""Compositional generation: weighted sums of energy models plus extra terms, sampled like one model.

    >>> import graph_energy as ge
    >>> ring, nitro = ge.load("ring.pt"), ge.load("nitrogen.pt")              # doctest: +SKIP
    >>> both = ge.compose(ring, nitro)                  # E_ring + E_nitro: product of experts  # doctest: +SKIP
    >>> ring_no_n = ge.compose(ring, (nitro, -0.5))     # E_ring − 0.5·E_nitro: negation         # doctest: +SKIP
    >>> cool = ge.compose(ring, nitro, temperatures=[1.0, 2.0])   # E_ring/1 + E_nitro/2         # doctest: +SKIP
    >>> window = ge.compose(ring, terms=[{"property": "logp", "lo": 2, "hi": 3}])                # doctest: +SKIP
    >>> both.sample(100, seed=0).summary["validity"]                                             # doctest: +SKIP

The models' weighted sum is the composed model's energy ``E_θ`` (what the energy switch compares;
its per-size thresholds are the same weighted sum of the parts' calibrations), extra terms are added
on top as in ``E_target = E_θ + Σ_k w_k·P_k``. Every model must share the first one's vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from graph_energy.api import GEMModel, load
from graph_energy.data.dense import DenseGraph
from graph_energy.samplers.switch import Calibration
from graph_energy.samplers.target import EnergyTerm
from graph_energy.terms.base import check_vocabulary, term_weight
from graph_energy.terms.build import build_terms, describe_terms

__all__ = ["ComposedEnergy", "ComposedModel", "compose", "composed_calibration"]


class ComposedEnergy(nn.Module):
    """``Σ_k w_k · E_k(graph)``, shape ``(B,)``, differentiable like its parts.

    Args:
        models: energy models ``DenseGraph -> (B,)``.
        weights: one weight per model.
    """

    def __init__(self, models: Sequence[nn.Module], weights: Sequence[float]) -> None:
        super().__init__()
        if not models or len(models) != len(weights):
            raise ValueError(f"need one weight per model, got {len(models)} models and {len(weights)} weights")
        self.parts = nn.ModuleList(models)
        self.weights = [float(w) for w in weights]

    def forward(self, graph: DenseGraph) -> Tensor:
        total = None
        for w, m in zip(self.weights, self.parts):
            e = w * m(graph)
            total = e if total is None else total + e
        return total


def composed_calibration(calibrations: Sequence[Calibration | None], weights: Sequence[float]) -> Calibration | None:
    """Per-size thresholds ``Σ_k w_k · t_k(n)`` over the sizes every part has; ``None`` if a part has none."""
    if not calibrations or any(c is None for c in calibrations):
        return None
    sizes = set(calibrations[0].thresholds)
    for c in calibrations[1:]:
        sizes &= set(c.thresholds)
    if not sizes:
        return None
    thresholds = {}
    for n in sorted(sizes):
        total = None
        for w, c in zip(weights, calibrations):
            t = w * c.thresholds[n]
            total = t if total is None else total + t
        thresholds[n] = total
    counts = {n: min(c.counts.get(n, 0) for c in calibrations) for n in sorted(sizes)}
    return Calibration(calibrations[0].quantile, thresholds, counts, "composed")


class ComposedModel(GEMModel):
    """A :class:`~graph_energy.api.GEMModel` whose energy is a weighted sum of models (plus extra terms).

    Build it with :func:`compose`. ``spec``, ``stats`` and ``config`` are the first model's;
    ``calibration`` is :func:`composed_calibration` of the parts'. :meth:`sample` adds ``terms``
    (given here and at call time) to the target; ``summary["composition"]`` records the parts.
    """

    def __init__(self, models: Sequence[GEMModel], weights: Sequence[float], terms: Sequence[EnergyTerm] = ()) -> None:
        first = models[0]
        for i, m in enumerate(models[1:], 1):
            check_vocabulary(m.spec, first.spec, f"model #{i} of the composition ({m.path.name})")
        self.parts, self.part_weights = list(models), [float(w) for w in weights]
        self.model = ComposedEnergy([m.model for m in models], self.part_weights).eval()
        self.spec, self.stats, self.config = first.spec, first.stats, first.config
        self.extras = {k: v for k, v in first.extras.items() if k != "calibration"}
        self.step, self.path, self.device = first.step, first.path, first.device
        self.calibration = composed_calibration([m.calibration for m in models], self.part_weights)
        self.terms = build_terms(list(terms), self.spec, trusted=True, device=str(self.device))

    def __repr__(self) -> str:
        parts = " + ".join(f"{w:g}·{m.path.name}" for w, m in zip(self.part_weights, self.parts))
        extra = f" + {len(self.terms)} terms" if self.terms else ""
        return f"ComposedModel({parts}{extra})"

    def describe(self) -> dict:
        """Plain-data description of the composition (models, weights, terms)."""
        return {"models": [{"path": str(m.path), "weight": w} for m, w in zip(self.parts, self.part_weights)],
                "terms": describe_terms(self.terms)}

    def sample(self, n: int = 1000, seed: int = 0, num_nodes=None, sampler: Any = "default", batch_size: int = 256,
               progress: bool = False, extra_terms: Sequence = (), num_threads: int | None = 1, terms: Sequence = (),
               scaffold=None, connect: bool | None = None, repair: int = 400):
        """:meth:`GEMModel.sample` of the composed energy; ``terms`` are added to the composition's own.
        ``summary["composition"]`` records the models and weights, ``summary["terms"]`` every term."""
        samples = super().sample(n, seed=seed, num_nodes=num_nodes, sampler=sampler, batch_size=batch_size,
                                 progress=progress, extra_terms=[*self.terms, *extra_terms], num_threads=num_threads,
                                 terms=terms, scaffold=scaffold, connect=connect, repair=repair)
        samples.summary["composition"] = {**self.describe(), "terms": samples.summary.get("terms", [])}
        return samples

    @torch.no_grad()
    def score(self, smiles, batch_size: int = 256):
        """Composed model energy ``Σ_k w_k E_k`` of each molecule (extra terms not included)."""
        return super().score(smiles, batch_size)


def _as_model(part: Any, device) -> GEMModel:
    if isinstance(part, GEMModel):
        return part
    if isinstance(part, (str, Path)):
        return load(part, device=device)
    raise TypeError(f"compose takes GEMModel objects, checkpoint paths, (model, weight) pairs and terms; "
                    f"got {type(part).__name__}")


def compose(*parts: Any, weights: Sequence[float] | None = None, temperatures: Sequence[float] | None = None,
            terms: Sequence = (), device: str | torch.device | None = None) -> ComposedModel:
    """Sum several energy models (and terms) into one samplable model.

    Args:
        parts: models (``GEMModel`` or checkpoint paths / bundled names), ``(model, weight)`` pairs, and
            extra terms (:class:`~graph_energy.samplers.EnergyTerm` objects, preset names or config dicts).
        weights: one weight per model (default 1, or the weight of its pair); negative = negation.
        temperatures: one temperature per model instead (``weight = 1 / T``).
        terms: more extra terms.

    Returns:
        a :class:`ComposedModel` (``.sample``, ``.score``, ``.describe``).
    """
    models, pair_w, extra = [], [], list(terms)
    for p in parts:
        if isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], (int, float)):
            models.append(p[0])
            pair_w.append(float(p[1]))
        elif isinstance(p, (EnergyTerm, dict)):
            extra.append(p)
        else:
            models.append(p)
            pair_w.append(1.0)
    if not models:
        raise ValueError("compose needs at least one energy model (a GEMModel or a checkpoint path)")
    if weights is not None and temperatures is not None:
        raise ValueError("give weights or temperatures, not both")
    for name, vals in (("weights", weights), ("temperatures", temperatures)):
        if vals is not None and len(vals) != len(models):
            raise ValueError(f"{name} has {len(vals)} entries for {len(models)} models; give one per model")
    if temperatures is not None:
        w = [term_weight(1.0, t, f"model #{i}") for i, t in enumerate(temperatures)]
    elif weights is not None:
        w = [term_weight(v, None, f"model #{i}") for i, v in enumerate(weights)]
    else:
        w = pair_w
    first_device = device if device is not None else (models[0].device if isinstance(models[0], GEMModel) else "cpu")
    built = [_as_model(m, first_device) for m in models]
    return ComposedModel(built, w, extra)
