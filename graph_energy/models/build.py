"""Build a network from a plain model config (a ``conf/model/*.yaml`` preset or a checkpoint's ``config["model"]``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from graph_energy.config import instantiate
from graph_energy.data.spec import MolecularSpec

__all__ = ["build_model", "build_energy_model"]

_DEFAULT_TARGET = "graph_energy.models.GraphTransformerEnergy"
# nodes the network builds itself (they need the spec / the backbone widths): always partial
_BUILT_BY_NETWORK = ("backbone", "head")


def build_model(model_cfg: Mapping[str, Any], spec: MolecularSpec, *, trusted: bool = False) -> nn.Module:
    """Build a network from a model config and the dataset spec.

    ``model_cfg`` is a plain mapping: an optional ``_target_`` (default :class:`GraphTransformerEnergy`)
    plus constructor keyword arguments, nested ``_target_`` nodes included (``head``, ``backbone``;
    those two are built by the network, so ``_partial_: true`` is implied). Other top-level keys
    starting with ``_`` (``_recursive_``, ...) are not passed on; ``spec`` is passed as ``spec=``.

    Args:
        trusted: the config is the user's own (composed on the command line / written in Python).
            Leave it ``False`` for configs read from files (checkpoints): then only ``graph_energy``
            classes and :func:`graph_energy.config.allow_targets` entries are built, anything else
            raises :class:`~graph_energy.config.UnsafeTargetError` before it is imported or called.
    """
    if not isinstance(model_cfg, Mapping):
        raise TypeError(f"model_cfg must be a mapping of constructor arguments, got {type(model_cfg).__name__}")
    cfg = {k: v for k, v in model_cfg.items() if not str(k).startswith("_")}
    if "spec" in cfg:
        raise ValueError("model_cfg must not contain 'spec'; the dataset spec is passed separately")
    for key in _BUILT_BY_NETWORK:
        node = cfg.get(key)
        if isinstance(node, Mapping) and "_target_" in node and "_partial_" not in node:
            cfg[key] = {**node, "_partial_": True}
    target = str(model_cfg.get("_target_", _DEFAULT_TARGET))
    try:
        model = instantiate({"_target_": target, **cfg}, trusted=trusted, spec=spec)
    except TypeError as err:
        raise ValueError(f"bad model config for {target}: {err}") from err
    if not isinstance(model, nn.Module):
        raise TypeError(f"model _target_ {target!r} built a {type(model).__name__}, not a torch module")
    return model


#: The same function under the name the energy-model callers use.
build_energy_model = build_model
