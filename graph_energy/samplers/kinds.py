"""One sampling path for both kinds of checkpoint: GEM energy models and discrete flow-matching models.

A checkpoint's kind follows from the network its config builds (:func:`~graph_energy.models.flow.model_kind`:
``"energy"``, or ``"dfm"`` for a :class:`~graph_energy.models.flow.FlowTransformer`). Each kind has a
default sampler preset (``conf/sampler/default.yaml`` / ``ctmc.yaml``) and kernels that serve it
(a kernel's ``model_kind`` attribute, ``"energy"`` when absent). A flow model samples through a
:class:`~graph_energy.samplers.ctmc.FlowTarget` whose source ``p_0`` is rebuilt from the ``noise``
node of the training config and the checkpoint's dataset statistics; the chains start from it.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from graph_energy.models.flow import DFM, ENERGY, model_kind

__all__ = ["DEFAULT_SAMPLERS", "model_kind", "kernel_kind", "sampler_kind", "check_sampler_kind",
           "default_sampler_config", "resolve_sampler_config", "model_source", "sampling_inputs"]

#: Preset name (``conf/sampler/<name>.yaml``) of each kind's default sampler.
DEFAULT_SAMPLERS = {ENERGY: "default", DFM: "ctmc"}
_PRESETS = Path(__file__).resolve().parent.parent / "conf" / "sampler"


def kernel_kind(kernel: Any) -> str:
    """The kind of model a kernel samples (``model_kind`` attribute, ``"energy"`` by default)."""
    return str(getattr(kernel, "model_kind", ENERGY))


def sampler_kind(sampler) -> str:
    """The kind of model every phase of ``sampler`` serves (``ValueError`` if its phases disagree)."""
    kinds = {kernel_kind(p.kernel) for p in sampler.phases}
    if len(kinds) != 1:
        raise ValueError(f"sampler mixes kernels for {sorted(kinds)} models; a sampler serves one kind of model")
    return kinds.pop()


def check_sampler_kind(sampler, kind: str) -> None:
    """``ValueError`` naming the fix when ``sampler`` cannot sample a ``kind`` model."""
    have = sampler_kind(sampler)
    if have != kind:
        want = DEFAULT_SAMPLERS.get(kind, "?")
        raise ValueError(f"this is a {kind} checkpoint but the sampler's kernels serve {have} models; "
                         f"use sampler={want} (the default for {kind} checkpoints)")


def default_sampler_config(kind: str) -> dict:
    """The default sampler preset of a model kind, as a config dict."""
    if kind not in DEFAULT_SAMPLERS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(DEFAULT_SAMPLERS)}")
    return yaml.safe_load((_PRESETS / f"{DEFAULT_SAMPLERS[kind]}.yaml").read_text())


def resolve_sampler_config(cfg: Mapping | None, kind: str) -> dict | None:
    """``cfg``, or the kind's default when ``cfg`` is ``None`` or the (unmodified) energy default preset.

    So ``gem-sample ckpt=<dfm checkpoint>`` (whose composed ``sampler`` is the default preset) and
    ``model.sample()`` pick the CTMC sampler for a flow model; anything else is left as given.
    """
    if kind == ENERGY:
        return None if cfg is None else copy.deepcopy(dict(cfg))
    if cfg is None or dict(cfg) == default_sampler_config(ENERGY):
        return default_sampler_config(kind)
    return copy.deepcopy(dict(cfg))


def model_source(config: Mapping, spec, stats):
    """The source ``p_0`` of a flow model: its training run's ``noise`` node built with the checkpoint's
    spec and statistics.

    The node comes from a file, so it may only name a library noise class or the ``from_data``
    constructor of one (``conf/noise/*.yaml``); anything else raises ``UnsafeTargetError``.
    """
    from graph_energy.config import UnsafeTargetError, instantiate, locate
    from graph_energy.noise.distributions import NoiseDistribution

    node = (config or {}).get("noise")
    if not isinstance(node, Mapping) or "_target_" not in node:
        raise ValueError("the checkpoint's config has no 'noise' node, so the flow model's source p_0 is unknown; "
                         "add the noise config the model was trained with (e.g. "
                         "{_target_: graph_energy.noise.MarginalNoise.from_data})")
    target = str(node["_target_"])
    fn = locate(target, trusted=False)
    owner = getattr(fn, "__self__", None)
    kwargs = {k: instantiate(v, trusted=False) for k, v in node.items() if not str(k).startswith("_")}
    if inspect.isclass(fn) and issubclass(fn, NoiseDistribution):
        return instantiate(dict(node), trusted=False)
    if inspect.isclass(owner) and issubclass(owner, NoiseDistribution) and getattr(fn, "__name__", "") == "from_data":
        return fn(spec=spec, stats=stats, **kwargs)
    raise UnsafeTargetError(f"the checkpoint's noise node names {target!r}, which is neither a library noise class "
                            "nor its from_data constructor")


def sampling_inputs(model, spec, stats, config: Mapping) -> tuple[Any, Any]:
    """``(target, noise)`` for :func:`~graph_energy.samplers.generate`: the energy network and ``None``
    (the driver's default noise) for an energy model, a ``FlowTarget`` and its source for a flow model."""
    if model_kind(model) != DFM:
        return model, None
    from graph_energy.samplers.ctmc import FlowTarget

    source = model_source(config, spec, stats)
    return FlowTarget(model, source), source
