"""Samplers from plain config dicts (``conf/sampler/*.yaml``, checkpoints, files) and back.

The config of a sampler is what :func:`graph_energy.config.to_config` writes::

    _target_: graph_energy.samplers.Sampler
    phases:
      - _target_: graph_energy.samplers.Phase
        name: transport
        max_steps: 100
        kernel: {_target_: graph_energy.samplers.GreedyTransport, edits_per_step: 2, adaptive: true}
        switch: {_target_: graph_energy.samplers.EnergySwitch, energy: true, on_arrival: true, margin: 0.0}
      - ...

Knobs are addressed by dotted path (``phases.mixing.kernel.proposal.beta_prop``) with
:func:`graph_energy.config.get_path` / :func:`~graph_energy.config.set_path`. Configs of the
earlier three-part form (``transport``/``switch``/``mixing``) still load (:func:`legacy_sampler_config`).
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Mapping, Sequence

from graph_energy.config import instantiate, locate, to_config
from graph_energy.samplers.phases import Sampler
from graph_energy.samplers.switch import Calibration

__all__ = ["build_sampler", "legacy_sampler_config", "is_legacy_sampler_config", "sampler_config"]

log = logging.getLogger(__name__)

_PKG = "graph_energy.samplers"
_LEGACY_KEYS = ("transport", "switch", "mixing")
_LEGACY_TRANSPORT = {f"{_PKG}.GreedyTransport", f"{_PKG}.transport.GreedyTransport"}
_LEGACY_MIXING = {f"{_PKG}.DiscreteLangevinMH", f"{_PKG}.mixing.DiscreteLangevinMH"}
_LEGACY_SAMPLER = {f"{_PKG}.Sampler", f"{_PKG}.driver.Sampler"}


def is_legacy_sampler_config(cfg) -> bool:
    """Whether ``cfg`` is a sampler dict of the earlier ``{transport, switch, mixing}`` form."""
    return isinstance(cfg, Mapping) and "phases" not in cfg and any(k in cfg for k in _LEGACY_KEYS)


def _legacy_part(cfg: Mapping, key: str, known: set[str]) -> dict:
    part = dict(cfg.get(key) or {})
    target = part.pop("_target_", None)
    if target is not None and target not in known:
        raise ValueError(f"old-format sampler config with {key}._target_={target!r}: only the library's own "
                         f"{key} kernel converts automatically; rewrite the config in the phases form "
                         "(see conf/sampler/default.yaml)")
    return part


def legacy_sampler_config(d: Mapping) -> dict:
    """The phases-form config of an old ``{transport: …, switch: …, mixing: …}`` sampler dict.

    Old form (``conf/sampler/*.yaml`` before phases, checkpoints' ``extras["sampler"]``, ``sampler.yaml``
    files of earlier gem-calibrate runs), with the old defaults for missing keys::

        transport: {edits_per_step: 1, max_steps: 225, adaptive: true}
        switch: {energy: true, on_arrival: true, margin: 0.0}        # any switch _target_
        mixing: {num_steps: 1000, beta_prop: 2.36, lambda_x: 4.0, lambda_e: 4.83, beta_mh: 1.0}
    """
    if not isinstance(d, Mapping):
        raise TypeError(f"an old-format sampler config is a mapping, got {type(d).__name__}")
    unknown = set(d) - {*_LEGACY_KEYS, "_target_"}
    if unknown:
        raise ValueError(f"old-format sampler config has unknown keys {sorted(unknown)}; expected transport, "
                         "switch and mixing")
    if d.get("_target_") not in (None, *_LEGACY_SAMPLER):
        raise ValueError(f"old-format sampler config with _target_={d['_target_']!r}: rewrite it in the phases "
                         "form (see conf/sampler/default.yaml)")
    t = _legacy_part(d, "transport", _LEGACY_TRANSPORT)
    m = _legacy_part(d, "mixing", _LEGACY_MIXING)
    switch = copy.deepcopy(dict(d.get("switch") or {}))
    switch.setdefault("_target_", f"{_PKG}.EnergySwitch")
    beta_mh = copy.deepcopy(m.pop("beta_mh", 1.0))
    if isinstance(beta_mh, Mapping) and beta_mh.get("_target_", "").startswith(f"{_PKG}.schedules."):
        beta_mh = {**beta_mh, "_target_": f"{_PKG}.{beta_mh['_target_'].rsplit('.', 1)[1]}"}
    transport = {"_target_": f"{_PKG}.Phase", "name": "transport", "max_steps": int(t.pop("max_steps", 225)),
                 "kernel": {"_target_": f"{_PKG}.GreedyTransport", "edits_per_step": t.pop("edits_per_step", 1),
                            "adaptive": t.pop("adaptive", True)},
                 "switch": switch}
    proposal = {"_target_": f"{_PKG}.LangevinProposal", "beta_prop": m.pop("beta_prop", 2.36),
                "lambda_x": m.pop("lambda_x", 4.0), "lambda_e": m.pop("lambda_e", 4.83)}
    mixing = {"_target_": f"{_PKG}.Phase", "name": "mixing", "max_steps": int(m.pop("num_steps", 1000)),
              "kernel": {"_target_": f"{_PKG}.DiscreteLangevinMH", "proposal": proposal, "beta_mh": beta_mh}}
    for key, rest in (("transport", t), ("mixing", m)):
        if rest:
            raise ValueError(f"old-format sampler config: unknown {key} keys {sorted(rest)}")
    return {"_target_": f"{_PKG}.Sampler", "phases": [transport, mixing]}


def _plain(node):
    """Plain dicts and lists (e.g. from OmegaConf containers), copied."""
    if isinstance(node, Mapping):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)) or (isinstance(node, Sequence) and not isinstance(node, (str, bytes))):
        return [_plain(v) for v in node]
    return copy.deepcopy(node)


def sampler_config(cfg: Mapping | Sampler | None) -> dict:
    """A plain phases-form config dict (a copy) of a sampler, its config, an old-format dict or ``None``."""
    if cfg is None:
        return to_config(Sampler())
    if isinstance(cfg, Sampler):
        return to_config(cfg)
    if not isinstance(cfg, Mapping):
        raise TypeError(f"a sampler config must be a mapping (or a Sampler), got {type(cfg).__name__}")
    cfg = _plain(cfg)
    if is_legacy_sampler_config(cfg):
        log.info("converting an old-format sampler config (transport/switch/mixing) to phases")
        return legacy_sampler_config(cfg)
    out = cfg
    out.setdefault("_target_", f"{_PKG}.Sampler")
    return out


def _accepts_calibration(target: str, trusted: bool) -> bool:
    fn = locate(target, trusted=trusted)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "calibration" in params


def _give_calibration(cfg: dict, calibration: Calibration, trusted: bool) -> None:
    for phase in cfg.get("phases") or []:
        switch = phase.get("switch") if isinstance(phase, Mapping) else None
        if isinstance(switch, dict) and "_target_" in switch and _accepts_calibration(switch["_target_"], trusted):
            switch["calibration"] = calibration


def build_sampler(cfg: Mapping | Sampler | None = None, calibration: Calibration | dict | None = None, *,
                  trusted: bool = False) -> Sampler:
    """A :class:`Sampler` from its config dict (phases form, or the old form), or ``None`` for the default.

    Args:
        cfg: a config dict (``conf/sampler/*.yaml``), a :class:`Sampler` (returned as is without a
            calibration, rebuilt with it otherwise) or ``None``.
        calibration: per-size thresholds (a :class:`Calibration` or its dict) given to the constructor of
            every switch that takes one.
        trusted: the config comes from the user (command line / Python), so any ``_target_`` may be
            built; otherwise (files, checkpoints) only library classes and allowed targets
            (:func:`graph_energy.config.allow_targets`); anything else raises ``UnsafeTargetError``.
    """
    if isinstance(cfg, Sampler):
        if calibration is None:
            return cfg
        trusted = True  # everything in it was built already
    node = sampler_config(cfg)
    if calibration is not None:
        cal = Calibration.from_dict(calibration) if isinstance(calibration, Mapping) else calibration
        if not isinstance(cal, Calibration):
            raise TypeError(f"calibration must be a Calibration or its dict, got {type(calibration).__name__}")
        _give_calibration(node, cal, trusted)
    sampler = instantiate(node, trusted=trusted)
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler config built a {type(sampler).__name__}, expected a graph_energy.samplers.Sampler")
    return sampler
