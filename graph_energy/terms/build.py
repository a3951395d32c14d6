"""Terms from plain configs: the ``terms`` config group, Python dicts and preset names.

A terms config maps a term name to a node. A node with a ``_target_`` is built as written; the
short forms need none::

    logp_window: {property: logp, lo: 2, hi: 3, scale: 0.5, weight: 4}   # exact RDKit property
    no_nn:       {property: "smarts:[#7]~[#7]", hi: 0, hard: true}         # forbidden substructure
    mu:          {predictor: runs/mu/checkpoints/last.pt, target: 3.0, scale: 0.25, weight: 8}
    expert:      {ckpt: runs/ring/checkpoints/last.pt, weight: 1.0}       # a second energy model

The penalty follows from the keys: ``target`` → :class:`Target`; ``lo`` and ``hi`` → :class:`Window`;
one of them → :class:`Bound`; ``hard: true`` → :class:`Hard` on ``[lo, hi]``; ``step: s`` adds a jump
of ``s`` at a window's or bound's edge (so that states just outside are not nearly as likely as
states inside; :class:`~graph_energy.terms.penalties.Window`). ``temperature: T``
sets ``weight = 1/T``. A node set to ``null`` is left out. The presets of ``conf/terms/`` are such
nodes (``gem-sample terms=[logp_window] terms.logp_window.lo=1.5``; :func:`preset` in Python).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from graph_energy.config import instantiate
from graph_energy.data.spec import MolecularSpec
from graph_energy.samplers.target import EnergyTerm
from graph_energy.terms.cache import MoleculeCache
from graph_energy.terms.exact import DEFAULT_INVALID_PENALTY, PropertyTerm
from graph_energy.terms.learned import PredictorTerm
from graph_energy.terms.models import ExpertTerm
from graph_energy.terms.penalties import Bound, Hard, Penalty, Target, Window

__all__ = ["make_penalty", "property_term", "predictor_term", "expert_term", "build_terms", "bind_terms",
           "describe_terms", "preset", "PRESET_DIR"]

log = logging.getLogger(__name__)

#: Folder of the preset term configs (``conf/terms/<name>.yaml``, each ``{<name>: node}``).
PRESET_DIR = Path(__file__).resolve().parent.parent / "conf" / "terms"


def make_penalty(target: float | None = None, lo: float | None = None, hi: float | None = None,
                 hard: bool = False, scale: float = 1.0, step: float = 0.0) -> Penalty:
    """The penalty the short form's keys describe (see the module docstring)."""
    if target is not None:
        if lo is not None or hi is not None or hard or step:
            raise ValueError(f"give either target={target} or a window (lo/hi, hard, step), not both")
        return Target(target, scale)
    if hard:
        if step:
            raise ValueError("step is the edge of a soft window; a hard window is already infinite outside")
        return Hard(lo, hi)
    if lo is None and hi is None:
        raise ValueError("a term needs target=..., or lo=... and/or hi=... (a window or bound)")
    return Window(lo, hi, scale, step) if lo is not None and hi is not None else Bound(lo, hi, scale, step)


def property_term(property: str, target: float | None = None, lo: float | None = None, hi: float | None = None,
                  hard: bool = False, scale: float = 1.0, weight: float = 1.0, temperature: float | None = None,
                  invalid_penalty: float = DEFAULT_INVALID_PENALTY, name: str | None = None,
                  step: float = 0.0) -> PropertyTerm:
    """An exact (RDKit) property term from the short form, e.g. ``property_term("logp", lo=2, hi=3)``."""
    return PropertyTerm(property, make_penalty(target, lo, hi, hard, scale, step), weight=weight, name=name,
                        invalid_penalty=invalid_penalty, temperature=temperature)


def predictor_term(predictor: str, property: str | None = None, target: float | None = None,
                   lo: float | None = None, hi: float | None = None, hard: bool = False, scale: float = 1.0,
                   weight: float = 1.0, temperature: float | None = None, name: str | None = None,
                   use_ema: bool = True, device: str = "cpu", step: float = 0.0) -> PredictorTerm:
    """A learned-predictor term from the short form (``predictor`` is the checkpoint path)."""
    if not predictor:
        raise ValueError(f"term {name or 'predictor'!r}: set predictor=<checkpoint of gem-train "
                         "experiment=qm9_property property=...>")
    return PredictorTerm(ckpt=predictor, penalty=make_penalty(target, lo, hi, hard, scale, step), property=property,
                         weight=weight, name=name, temperature=temperature, use_ema=use_ema, device=device)


def expert_term(ckpt: str, weight: float = 1.0, temperature: float | None = None, name: str = "expert",
                use_ema: bool = True, device: str = "cpu") -> ExpertTerm:
    """A second energy model as a term (``weight < 0``: negation)."""
    if not ckpt:
        raise ValueError(f"term {name!r}: set ckpt=<energy checkpoint> (e.g. +terms.{name}.ckpt=<path>)")
    return ExpertTerm(ckpt=ckpt, weight=weight, name=name, temperature=temperature, use_ema=use_ema, device=device)


_SHORT = {"property": property_term, "predictor": predictor_term, "ckpt": expert_term}


def preset(name: str, **overrides: Any) -> dict:
    """The config node of a preset term (``conf/terms/<name>.yaml``) with ``overrides`` applied."""
    import yaml

    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
        raise ValueError(f"unknown term preset {name!r}; presets: {have}, or write the term as a dict")
    doc = yaml.safe_load(path.read_text()) or {}
    if name not in doc:
        raise ValueError(f"preset file {path.name} must hold one key {name!r}")
    return {**doc[name], **overrides}


def _build_one(name: str, node: Any, trusted: bool, device: str) -> EnergyTerm:
    if isinstance(node, EnergyTerm):
        return node
    if isinstance(node, str):
        node = preset(node)
    if not isinstance(node, Mapping):
        raise TypeError(f"term {name!r}: expected a config mapping (or an EnergyTerm), got {type(node).__name__}")
    node = {str(k): v for k, v in dict(node).items()}
    if "_target_" in node:
        node.setdefault("name", name)
        built = instantiate(node, trusted=trusted)
    else:
        keys = [k for k in _SHORT if k in node]
        if len(keys) != 1:
            raise ValueError(f"term {name!r}: say what it is with exactly one of property=<name>, "
                             f"predictor=<checkpoint> or ckpt=<energy checkpoint>, or a _target_; got keys {sorted(node)}")
        factory = _SHORT[keys[0]]
        node.setdefault("name", name)
        if factory is not property_term:
            node.setdefault("device", device)
        try:
            built = factory(**node)
        except TypeError as err:
            raise TypeError(f"term {name!r}: {err}; check its keys") from None
        except ValueError as err:
            if str(err).startswith("term "):
                raise
            raise ValueError(f"term {name!r}: {err}") from None
    if not isinstance(built, EnergyTerm):
        raise TypeError(f"term {name!r} built a {type(built).__name__}, not an EnergyTerm")
    return built


def build_terms(cfg: Mapping | Sequence | None, spec: MolecularSpec | None = None, *, trusted: bool = False,
                cache: MoleculeCache | None = None, device: str = "cpu") -> list[EnergyTerm]:
    """The terms of a config (name -> node mapping, a list of nodes / terms / preset names, or ``None``).

    Terms are bound to ``spec`` (if given): property terms share one molecule cache, expert and
    predictor terms are checked against the vocabulary (``ValueError`` if they were trained on another).

    Args:
        trusted: the config is the user's own (command line / Python): any ``_target_`` builds.
    """
    if cfg is None:
        return []
    if isinstance(cfg, Mapping):
        items = [(str(k), v) for k, v in cfg.items() if v is not None]
    elif isinstance(cfg, (list, tuple)):
        items = []
        for i, v in enumerate(cfg):
            if isinstance(v, EnergyTerm):
                items.append((v.name, v))
            elif isinstance(v, str):
                items.append((v, v))
            elif isinstance(v, Mapping):
                items.append((str(v.get("name") or f"term{i}"), {k: x for k, x in v.items() if k != "name"}))
            else:
                raise TypeError(f"terms[{i}]: expected a term, a preset name or a config dict, got {type(v).__name__}")
    else:
        raise TypeError(f"terms must be a mapping of name -> term config or a list, got {type(cfg).__name__}")
    terms = [_build_one(name, copy.deepcopy(node) if not isinstance(node, EnergyTerm) else node, trusted, device)
             for name, node in items]
    return bind_terms(terms, spec, cache)


def bind_terms(terms: Sequence[EnergyTerm], spec: MolecularSpec | None, cache: MoleculeCache | None = None
               ) -> list[EnergyTerm]:
    """Bind property terms to ``spec`` (one shared cache) and check model/predictor vocabularies."""
    terms = list(terms)
    names = [t.name for t in terms]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup or "model" in names:
        raise ValueError(f"term names must be unique and not 'model', got {names}; rename with name=...")
    if spec is None:
        return terms
    for t in terms:
        if isinstance(t, PropertyTerm):
            if cache is None:
                cache = t.cache if t.cache is not None and t.cache.spec == spec else MoleculeCache(spec)
            t.bind(spec, cache)
        elif hasattr(t, "check"):
            t.check(spec)
    return terms


def describe_terms(terms: Sequence[EnergyTerm]) -> list[dict]:
    """Plain-data description of each term (name, kind, weight, ...), for run metadata."""
    out = []
    for t in terms:
        if hasattr(t, "describe"):
            out.append(t.describe())
        else:
            out.append({"name": t.name, "kind": type(t).__name__, "weight": float(t.weight),
                        "differentiable": bool(t.differentiable)})
    return out
