"""Energy networks and the energy/gradient oracle."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from torch import nn

from graph_energy.data.spec import MolecularSpec
from graph_energy.models.energy_eval import EnergyEval, EnergyModel, energy_and_grad, symmetrize_edge_grad
from graph_energy.models.features import GraphFeatures, StructuralFeatures
from graph_energy.models.transformer import GraphTransformerEnergy

__all__ = [
    "EnergyEval",
    "EnergyModel",
    "GraphFeatures",
    "GraphTransformerEnergy",
    "StructuralFeatures",
    "build_energy_model",
    "energy_and_grad",
    "symmetrize_edge_grad",
]

_DEFAULT_TARGET = "graph_energy.models.transformer.GraphTransformerEnergy"


def _locate(path: str) -> type:
    module, _, name = path.rpartition(".")
    if not module:
        raise ValueError(f"_target_={path!r} is not a dotted path like {_DEFAULT_TARGET!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import _target_={path!r}: {err}") from err


def build_energy_model(model_cfg: Mapping[str, Any], spec: MolecularSpec) -> nn.Module:
    """Build an energy network from a model config and the dataset spec.

    ``model_cfg`` is a plain mapping (e.g. a preset from ``conf/model/*.yaml`` converted with
    ``OmegaConf.to_container``): an optional ``_target_`` dotted class path (default
    :class:`GraphTransformerEnergy`) plus constructor keyword arguments. Keys starting with ``_``
    (``_target_``, ``_recursive_``, ...) are not passed on; ``spec`` is passed as ``spec=``.
    """
    if not isinstance(model_cfg, Mapping):
        raise TypeError(f"model_cfg must be a mapping of constructor arguments, got {type(model_cfg).__name__}")
    cfg = dict(model_cfg)
    cls = _locate(str(cfg.get("_target_", _DEFAULT_TARGET)))
    kwargs = {k: v for k, v in cfg.items() if not str(k).startswith("_")}
    if "spec" in kwargs:
        raise ValueError("model_cfg must not contain 'spec'; the dataset spec is passed separately")
    try:
        return cls(spec=spec, **kwargs)
    except TypeError as err:
        raise ValueError(f"bad model config for {cls.__name__}: {err}") from err
