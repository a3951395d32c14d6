"""Exact property terms: an RDKit property of the decoded molecule shaped by a penalty.

    term = PropertyTerm("logp", Window(2, 3), weight=4.0)      # 4·dist(logP, [2, 3])²
    term = PropertyTerm("smarts:[#7]~[#7]", Hard(hi=0))        # forbid N–N bonds
    model.sample(100, terms=[term])

The term is not differentiable: it enters the target energy, hence the MH acceptance only, which
keeps the mixing chain exact for ``E_θ + Σ_k w_k·P_k``. Decoding and property values go through a
:class:`~graph_energy.terms.cache.MoleculeCache` keyed by the graph's labels, so a state seen
before costs nothing.

A graph that does not decode to a valid molecule (or whose property RDKit cannot compute) gets the
unweighted value ``invalid_penalty`` (default ``100``: the energy of a window missed by ten
scales, so that an invalid graph is never cheaper than a valid molecule near the window; a smaller
value lets chains escape a window by breaking the molecule). ``invalid_penalty: .inf`` excludes
invalid graphs like a hard constraint does.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor

from graph_energy.config import Configurable
from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec
from graph_energy.samplers.target import EnergyTerm
from graph_energy.terms.base import term_weight
from graph_energy.terms.cache import MoleculeCache
from graph_energy.terms.penalties import Hard, Penalty
from graph_energy.terms.properties import Property, property_by_name

__all__ = ["PropertyTerm", "DEFAULT_INVALID_PENALTY"]

log = logging.getLogger(__name__)

#: Unweighted energy of a graph that is not a valid molecule.
DEFAULT_INVALID_PENALTY = 100.0


class PropertyTerm(EnergyTerm, Configurable):
    """``weight · penalty(property(mol(x)))`` for every graph ``x`` of a batch.

    Args:
        property: a :class:`~graph_energy.terms.properties.Property` or its name (``logp``, ``qed``,
            ``sa``, ``mw``, ``tpsa``, ``rings``, ``heavy_atoms``, ``count_<element>``, ``smarts:<pattern>``).
        penalty: a :class:`~graph_energy.terms.penalties.Penalty` (``Target``, ``Window``, ``Bound``, ``Hard``).
        weight: ``w_k``; ``temperature`` (if given) sets ``weight = 1 / temperature`` instead.
        name: the term's name in the target's parts (default ``<property>_<penalty kind>``).
        invalid_penalty: unweighted value for graphs that are not valid molecules (``inf`` allowed).
        spec: the vocabulary that decodes the graphs (bound later with :meth:`bind` if ``None``).
        cache: a shared :class:`MoleculeCache` (default: one per spec, made on first use).
    """

    differentiable = False

    def __init__(self, property: Property | str, penalty: Penalty, weight: float = 1.0, name: str | None = None,
                 invalid_penalty: float = DEFAULT_INVALID_PENALTY, temperature: float | None = None,
                 spec: MolecularSpec | None = None, cache: MoleculeCache | None = None) -> None:
        self.property = property_by_name(property)
        if not isinstance(penalty, Penalty):
            raise TypeError(f"penalty must be a Target, Window, Bound or Hard, got {type(penalty).__name__}")
        self.penalty = penalty
        self.weight = term_weight(weight, temperature, f"property term {name or self.property.key!r}")
        bad = float(invalid_penalty)
        if math.isnan(bad) or bad < 0:
            raise ValueError(f"invalid_penalty must be >= 0 (or .inf), got {invalid_penalty!r}")
        self.invalid_penalty = bad
        if (isinstance(penalty, Hard) or math.isinf(bad)) and not self.weight > 0:
            raise ValueError(f"a hard constraint (or invalid_penalty=inf) on {self.property.key} needs a positive "
                             f"weight, got {self.weight:g}; a zero or negative weight turns +inf into NaN / -inf")
        self.name = str(name) if name else f"{self.property.key}_{penalty.kind}"
        self.spec: MolecularSpec | None = None
        self.cache: MoleculeCache | None = cache
        if spec is not None:
            self.bind(spec)
        for k in ("spec", "cache"):  # run-time objects, not part of the term's config
            self._config_args.pop(k, None)
        self._config_args["property"] = self.property.key

    @property
    def hard(self) -> bool:
        """Whether the penalty is a hard constraint (``+inf`` outside its interval)."""
        return isinstance(self.penalty, Hard)

    def bind(self, spec: MolecularSpec, cache: MoleculeCache | None = None) -> PropertyTerm:
        """Use ``spec`` to decode graphs (and ``cache``, if given, shared with other terms); returns self."""
        if not isinstance(spec, MolecularSpec):
            raise TypeError(f"bind needs a MolecularSpec, got {type(spec).__name__}")
        if cache is not None:
            if cache.spec != spec:
                raise ValueError("the shared MoleculeCache decodes another vocabulary than this term's spec")
            self.cache = cache
        elif self.cache is None or self.cache.spec != spec:
            self.cache = MoleculeCache(spec)
        self.spec = spec
        return self

    def values(self, graph: DenseGraph) -> tuple[Tensor, Tensor]:
        """Property values ``(B,)`` float64 (NaN for invalid graphs) and validity ``(B,)`` bool."""
        if self.cache is None:
            raise ValueError(f"property term {self.name!r} has no vocabulary to decode graphs with; pass spec=... "
                             "or use it through model.sample(terms=...) / ge.compose, which bind it")
        return self.cache.values(graph, self.property)

    def term(self, graph: DenseGraph) -> Tensor:
        vals, valid = self.values(graph)
        energy = self.penalty(torch.where(valid, vals, torch.zeros_like(vals)))
        energy = torch.where(valid, energy, torch.full_like(energy, self.invalid_penalty))
        return energy.to(graph.x.device)

    def satisfied(self, graph: DenseGraph) -> Tensor:
        """``(B,)`` bool: a valid molecule whose property lies in the penalty's zero-energy interval."""
        vals, valid = self.values(graph)
        return valid & self.penalty.inside(torch.where(valid, vals, torch.zeros_like(vals)))

    def check_range(self, lo: float, hi: float, what: str = "the training data") -> bool:
        """Log a warning if the penalty's interval misses ``[lo, hi]`` (the property's range in ``what``).

        Returns whether the interval and the range overlap.
        """
        plo = -math.inf if self.penalty.lo is None else self.penalty.lo
        phi = math.inf if self.penalty.hi is None else self.penalty.hi
        ok = plo <= hi and phi >= lo
        if not ok:
            log.warning("term %r asks for %s %s, outside its range [%g, %g] in %s: expect few (or no) "
                        "valid samples", self.name, self.property.key, self.penalty.describe(), lo, hi, what)
        return ok

    def describe(self) -> dict:
        """Plain-data description (for the metadata of a sample run)."""
        return {"name": self.name, "kind": "property", "weight": self.weight, "property": self.property.key,
                "penalty": type(self.penalty).__name__, "lo": self.penalty.lo, "hi": self.penalty.hi,
                "invalid_penalty": self.invalid_penalty, "differentiable": False}

    def __repr__(self) -> str:
        return f"PropertyTerm({self.name!r}: {self.weight:g} x {self.property.key} {self.penalty.describe()})"

