"""Learned property predictors as differentiable terms.

    term = PredictorTerm(ckpt="runs/qm9_property_mu/checkpoints/last.pt", penalty=Target(3.0, scale=0.25))

A predictor is a regression network on the shared backbone (``RegressionHead``) trained with the
property objective (``gem-train experiment=qm9_property property=mu``), also on path states
``x_t``, so its input gradient is meaningful off the data manifold. Its gradient adds to the
model's in the transport edits and the MH proposal; its value enters the MH acceptance.

Checkpoints of the property objective store the property names and the label normalisation in
their config (``objective.property``, ``objective.normalization``: ``name -> {mean, std, min, max}``);
:class:`PropertyPredictor` turns the network's standardised output back into physical units.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from graph_energy.config import Configurable
from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec
from graph_energy.samplers.target import EnergyTerm
from graph_energy.terms.base import check_vocabulary, term_weight
from graph_energy.terms.penalties import Penalty

__all__ = ["PropertyPredictor", "PredictorTerm", "load_predictor"]

log = logging.getLogger(__name__)


class PropertyPredictor(nn.Module):
    """A regression network in physical units: ``network(graph) · std + mean``.

    Args:
        network: ``DenseGraph -> (B, K)`` standardised predictions (or ``(B,)`` for ``K = 1``).
        names: the ``K`` property names, in output order.
        mean, std: ``(K,)`` label normalisation of the training split.
        spec: the vocabulary the network was trained on.
        ranges: ``(min, max)`` of each label in the training split (for the range warning), or ``None``.
    """

    def __init__(self, network: nn.Module, names: Sequence[str], mean: Sequence[float], std: Sequence[float],
                 spec: MolecularSpec | None = None, ranges: Sequence[tuple[float, float] | None] | None = None) -> None:
        super().__init__()
        names = [str(n) for n in names]
        if not names or len(names) != len(mean) or len(names) != len(std):
            raise ValueError(f"a predictor needs one mean and std per property, got names {names}, "
                             f"mean {list(mean)}, std {list(std)}")
        if any(float(s) <= 0 for s in std):
            raise ValueError(f"label std must be positive, got {list(std)}")
        self.network, self.names, self.spec = network, names, spec
        self.ranges = list(ranges) if ranges is not None else [None] * len(names)
        self.register_buffer("mean", torch.tensor([float(m) for m in mean], dtype=torch.float64))
        self.register_buffer("std", torch.tensor([float(s) for s in std], dtype=torch.float64))

    def index(self, name: str | None) -> int:
        """Output column of property ``name`` (``None``: the only one)."""
        if name is None:
            if len(self.names) != 1:
                raise ValueError(f"this predictor gives {self.names}; name the property to use (property=...)")
            return 0
        if name not in self.names:
            raise ValueError(f"unknown property {name!r} for this predictor; it predicts {self.names}")
        return self.names.index(name)

    def forward(self, graph: DenseGraph) -> Tensor:
        """``(B, K)`` predictions in physical units (the dtype of ``graph.x``)."""
        out = self.network(graph)
        if out.dim() == 1:
            out = out[:, None]
        return out * self.std.to(out.dtype) + self.mean.to(out.dtype)


def load_predictor(path: str | os.PathLike, use_ema: bool = True, device: str = "cpu") -> PropertyPredictor:
    """The :class:`PropertyPredictor` of a checkpoint written by ``gem-train objective=property``."""
    from graph_energy.training.checkpoint import CheckpointError, load_energy_model

    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"predictor checkpoint {p} does not exist; train one with "
                         "`gem-train experiment=qm9_property property=mu`")
    loaded = load_energy_model(p, use_ema=use_ema, map_location=device)
    obj = loaded.config.get("objective") or {}
    names = obj.get("property")
    if names is None:
        raise CheckpointError(f"{p} is not a property-predictor checkpoint (its config has no objective.property); "
                              "train one with gem-train experiment=qm9_property")
    names = [names] if isinstance(names, str) else list(names)
    norm = obj.get("normalization") or {}
    try:
        stats = [norm[n] for n in names]
        mean = [float(st["mean"]) for st in stats]
        std = [float(st["std"]) for st in stats]
    except (KeyError, TypeError):
        raise CheckpointError(f"{p}: objective.normalization lacks mean/std for {names}") from None
    ranges = [(float(st["min"]), float(st["max"])) if "min" in st and "max" in st else None for st in stats]
    pred = PropertyPredictor(loaded.model, names, mean, std, loaded.spec, ranges).to(device).eval()
    pred.path = str(p)
    return pred


class PredictorTerm(EnergyTerm, Configurable):
    """``weight · penalty(predictor(x)[property])``: a differentiable property term.

    Args:
        ckpt: a property-predictor checkpoint (or pass ``predictor=``).
        penalty: a :class:`~graph_energy.terms.penalties.Penalty` on the predicted value.
        property: which output of a multi-property predictor (default: its only one).
        weight: ``w_k``; ``temperature`` sets ``weight = 1 / temperature`` instead.
        name: the term's name (default ``<property>_<penalty kind>``).
        predictor: a :class:`PropertyPredictor` (or any module ``DenseGraph -> (B,)`` / ``(B, K)``).
    """

    differentiable = True

    def __init__(self, ckpt: str | os.PathLike | None = None, penalty: Penalty | None = None,
                 property: str | None = None, weight: float = 1.0, name: str | None = None,
                 temperature: float | None = None, use_ema: bool = True, predictor: nn.Module | None = None,
                 device: str = "cpu") -> None:
        if (ckpt is None) == (predictor is None):
            raise ValueError("PredictorTerm takes exactly one of ckpt=<predictor checkpoint> or predictor=<module>")
        if not isinstance(penalty, Penalty):
            raise TypeError(f"penalty must be a Target, Window, Bound or Hard, got {type(penalty).__name__}")
        self.ckpt = None if ckpt is None else str(ckpt)
        self.predictor = load_predictor(ckpt, use_ema, device) if predictor is None else predictor
        self.column = self.predictor.index(property) if isinstance(self.predictor, PropertyPredictor) else 0
        prop = property or (self.predictor.names[self.column] if isinstance(self.predictor, PropertyPredictor)
                            else "prediction")
        self.property_name, self.penalty = str(prop), penalty
        self.weight = term_weight(weight, temperature, f"predictor term {name or prop!r}")
        if penalty.kind == "hard" and not self.weight > 0:
            raise ValueError(f"a hard constraint on {prop} needs a positive weight, got {self.weight:g}")
        self.name = str(name) if name else f"{prop}_{penalty.kind}"
        self.spec = getattr(self.predictor, "spec", None)
        self._config_args.pop("predictor", None)

    @property
    def label_range(self) -> tuple[float, float] | None:
        """``(min, max)`` of the predicted label in the predictor's training split, if known."""
        ranges = getattr(self.predictor, "ranges", None)
        return ranges[self.column] if ranges else None

    def check_range(self, lo: float, hi: float, what: str = "the training labels") -> bool:
        """Log a warning if the penalty's interval misses ``[lo, hi]``; returns whether they overlap."""
        plo = -math.inf if self.penalty.lo is None else self.penalty.lo
        phi = math.inf if self.penalty.hi is None else self.penalty.hi
        ok = plo <= hi and phi >= lo
        if not ok:
            log.warning("term %r asks for %s %s, outside its range [%g, %g] in %s", self.name, self.property_name,
                        self.penalty.describe(), lo, hi, what)
        return ok

    def check(self, spec: MolecularSpec) -> PredictorTerm:
        """Raise ``ValueError`` if the predictor was trained on another vocabulary than ``spec``; returns self."""
        check_vocabulary(self.spec, spec, f"predictor term {self.name!r}")
        return self

    def predict(self, graph: DenseGraph) -> Tensor:
        """``(B,)`` predicted property (differentiable in ``graph.x``, ``graph.e``)."""
        out = self.predictor(graph)
        return out if out.dim() == 1 else out[:, self.column]

    def term(self, graph: DenseGraph) -> Tensor:
        return self.penalty(self.predict(graph))

    def describe(self) -> dict:
        return {"name": self.name, "kind": "predictor", "weight": self.weight, "property": self.property_name,
                "penalty": type(self.penalty).__name__, "lo": self.penalty.lo, "hi": self.penalty.hi,
                "ckpt": self.ckpt, "differentiable": True}

    def __repr__(self) -> str:
        return f"PredictorTerm({self.name!r}: {self.weight:g} x {self.property_name} {self.penalty.describe()})"
