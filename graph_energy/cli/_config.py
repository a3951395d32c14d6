"""Shared helpers of the console scripts: Hydra composition, logging set-up, the common ``main`` frame,
the ``allowed_targets=[...]`` option and the typed checks of command-line values.

Every console script accepts ``allowed_targets=[mypkg.MyKernel,mypkg.heads.]``: classes outside
``graph_energy`` (full names, or module prefixes ending in ``.``) that checkpoints and config files
read by this run may build (:func:`graph_energy.config.allow_targets`).

Values are checked against :data:`ARGUMENTS` (per command: kind, bounds, whether ``null`` is
allowed) and, for keys not listed there, against the kind of their default in the command's YAML
file, so ``num_samples=abc`` or ``num_samples=2.5`` is a one-line error naming the key.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["compose_config", "setup_logging", "run_cli", "json_safe", "Arg", "ARGUMENTS", "check_arguments",
           "check_command_arguments", "check_device", "take_allowed_targets"]


def compose_config(config_name: str, overrides: list[str], hints: dict[str, str] | None = None) -> dict:
    """Compose ``graph_energy/conf/<config_name>.yaml`` with command-line ``overrides``.

    Bad overrides or unknown group options raise a one-line ``ValueError``; ``hints`` maps a group
    name (e.g. ``"dataset"``) to a sentence appended when the error concerns that group.
    """
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_module("graph_energy.conf", version_base="1.3"):
            cfg = compose(config_name, overrides=overrides)
        return OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as err:
        msg = " ".join(str(err).split()).split(" Config search path")[0]
        for group, hint in (hints or {}).items():
            if f"{group}/" in msg:
                msg += f" ({hint})"
        raise ValueError(msg) from None


def setup_logging(cfg: dict) -> None:
    """Send library messages to stderr at ``cfg["log_level"]`` (stdout carries only the JSON line)."""
    import logging
    import sys

    logging.basicConfig(level=getattr(logging, str(cfg.get("log_level", "INFO")).upper(), logging.INFO),
                        stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def json_safe(obj):
    """``obj`` with non-finite floats replaced by ``None`` (strict JSON has no NaN/Infinity)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ------------------------------------------------------------------------------ allowed targets
_ALLOWED_KEY = "allowed_targets"


def take_allowed_targets(argv: list[str]) -> list[str]:
    """Apply every ``allowed_targets=...`` (also ``+``/``++``) override of ``argv`` with
    :func:`graph_energy.config.allow_targets` and return the other arguments.

    The value is a dotted name or a list of them (``[mypkg.MyKernel,mypkg.heads.]``); a bad value is
    a ``ValueError`` naming the key.
    """
    from graph_energy.config import allow_targets

    rest = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key.lstrip("+") != _ALLOWED_KEY:
            rest.append(arg)
            continue
        allow_targets(*_target_list(value))
    return rest


def _target_list(value: str) -> list[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    hint = "e.g. allowed_targets=[mypkg.MyKernel,mypkg.heads.]"
    try:
        parsed = OverridesParser.create().parse_overrides([f"{_ALLOWED_KEY}={value}"])[0].value()
    except HydraException:
        raise ValueError(f"allowed_targets={value!r} is not a dotted name or a list of them ({hint})") from None
    items = [] if parsed is None else [parsed] if isinstance(parsed, str) else parsed
    if not isinstance(items, list) or not all(isinstance(t, str) and t.strip(".") for t in items):
        raise ValueError(f"allowed_targets={value!r} is not a dotted name or a list of them ({hint})")
    return items


# ------------------------------------------------------------------------------ typed values
@dataclass(frozen=True)
class Arg:
    """What a command-line value must be.

    Attributes:
        kind: ``"int"``, ``"float"``, ``"bool"``, ``"device"`` (a torch device that exists here) or
            ``"sizes"`` (an int or an inclusive ``[lo, hi]`` range of ints).
        minimum, maximum: inclusive bounds (numbers and sizes).
        optional: ``null`` is allowed.
    """

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False


_THREADS = Arg("int", 1, optional=True)
_DEVICE = Arg("device")
#: Per command (the YAML name: ``sample`` for ``gem-sample``): dotted key -> :class:`Arg`. Keys not
#: listed are checked against the kind of their YAML default (``null`` allowed).
ARGUMENTS: dict[str, dict[str, Arg]] = {
    "sample": {"num_samples": Arg("int", 1), "batch_size": Arg("int", 1), "seed": Arg("int"),
               "num_nodes": Arg("sizes", 1, optional=True), "num_threads": _THREADS, "device": _DEVICE,
               "grid": Arg("int", 0, optional=True), "n_jobs": Arg("int", 1, optional=True),
               "calibration_graphs": Arg("int", 1)},
    "calibrate": {"num_graphs": Arg("int", 1), "quantile": Arg("float", 0.0, 1.0), "num_threads": _THREADS,
                  "device": _DEVICE, "search.num_samples": Arg("int", 1), "search.batch_size": Arg("int", 1),
                  "search.seed": Arg("int"), "search.passes": Arg("int", 1),
                  "search.num_nodes": Arg("sizes", 1, optional=True)},
    "evaluate": {"limit": Arg("int", 1, optional=True), "n_jobs": Arg("int", 1, optional=True)},
    "score": {"batch_size": Arg("int", 1), "max_per_size": Arg("int", 1, optional=True),
              "ood_quantile": Arg("float", 0.0, 1.0), "min_count": Arg("int", 1), "top": Arg("int", 0, optional=True),
              "num_threads": _THREADS, "device": _DEVICE},
    "interpolate": {"beam_width": Arg("int", 1), "seed": Arg("int"), "num_threads": _THREADS, "device": _DEVICE},
}

_WHAT = {"int": "an integer", "float": "a number", "bool": "true or false", "sizes": "an integer or a range [lo, hi]"}


def _bounds(arg: Arg) -> str:
    if arg.minimum is not None and arg.maximum is not None:
        return f" in [{arg.minimum:g}, {arg.maximum:g}]"
    if arg.minimum is not None:
        return f" >= {arg.minimum:g}"
    if arg.maximum is not None:
        return f" <= {arg.maximum:g}"
    return ""


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        out = float(value) if isinstance(value, (int, float, str)) else None
    except ValueError:
        return None
    return None if out is None or math.isnan(out) else out


def _in_bounds(x: float, arg: Arg) -> bool:
    return (arg.minimum is None or x >= arg.minimum) and (arg.maximum is None or x <= arg.maximum)


def check_device(device: Any, key: str = "device") -> str:
    """``device`` as a string if it names a torch device that exists on this machine, else a
    ``ValueError`` naming ``key`` (``device=cuda`` without CUDA says so)."""
    import torch

    try:
        dev = torch.device(str(device))
    except (RuntimeError, ValueError):
        raise ValueError(f"{key}={device!r} is not a device; use cpu, cuda or cuda:<index>") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{key}={device}: CUDA is not available on this machine (no GPU or a CPU-only torch "
                             f"build); use {key}=cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{key}={device}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                             f"use {key}=cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"{key}={device}: MPS is not available on this machine; use {key}=cpu")
    return str(device)


def _check_value(key: str, value: Any, arg: Arg, example: Any) -> Any:
    """``value`` converted to ``arg.kind`` (integral floats to int), or a ``ValueError`` naming ``key``."""
    if value is None:
        if arg.optional:
            return None
        raise ValueError(f"{key} cannot be null; pass {key}=<{arg.kind}>" + (f" (e.g. {key}={example})" if example
                                                                               is not None else ""))
    if arg.kind == "device":
        return check_device(value, key)
    if isinstance(example, bool):
        example = str(example).lower()
    hint = f" (e.g. {key}={example})" if example is not None else ""
    null = " or null" if arg.optional and arg.kind != "bool" else ""
    bad = ValueError(f"{key} must be {_WHAT[arg.kind]}{_bounds(arg)}{null}, got {value!r}{hint}")
    if arg.kind == "bool":
        if isinstance(value, bool):
            return value
        raise bad
    if arg.kind == "sizes" and isinstance(value, (list, tuple)):
        ints = [_as_int(v) for v in value]
        if len(ints) != 2 or any(v is None or not _in_bounds(v, arg) for v in ints) or ints[0] > ints[1]:
            raise bad
        return ints
    out = _as_int(value) if arg.kind in ("int", "sizes") else _as_float(value)
    if out is None or not _in_bounds(out, arg):
        raise bad
    return out


def _yaml_defaults(config_name: str) -> dict:
    """The values of ``conf/<config_name>.yaml`` itself (no groups composed); ``{}`` if there is none."""
    from importlib import resources

    import yaml

    try:
        text = (resources.files("graph_energy.conf") / f"{config_name}.yaml").read_text()
    except (FileNotFoundError, OSError):
        return {}
    doc = yaml.safe_load(text) or {}
    return doc if isinstance(doc, dict) else {}


def _inferred(defaults: Mapping, prefix: str = "") -> dict[str, tuple[Arg, Any]]:
    """``{dotted key: (Arg, default)}`` for the int/float/bool defaults of a YAML file (``null`` allowed)."""
    out: dict[str, tuple[Arg, Any]] = {}
    for k, v in defaults.items():
        key = f"{prefix}{k}"
        if k == "defaults" and not prefix:
            continue
        if isinstance(v, Mapping):
            if "_target_" not in v:
                out.update(_inferred(v, key + "."))
        elif isinstance(v, bool):
            out[key] = (Arg("bool", optional=True), v)
        elif isinstance(v, int):
            out[key] = (Arg("int", optional=True), v)
        elif isinstance(v, float):
            out[key] = (Arg("float", optional=True), v)
    return out


def check_arguments(cfg: dict, schema: Mapping[str, Arg], examples: Mapping[str, Any] | None = None) -> dict:
    """Check (and convert in place) the values of ``cfg`` at the dotted keys of ``schema``; keys absent
    from ``cfg`` are skipped. Returns ``cfg``; a bad value is a one-line ``ValueError`` naming its key."""
    from graph_energy.config import get_path, set_path

    for key, arg in schema.items():
        try:
            value = get_path(cfg, key)
        except KeyError:
            continue
        example = (examples or {}).get(key)
        if isinstance(example, (list, dict)) or (example is not None and arg.kind == "device"):
            example = None
        set_path(cfg, key, _check_value(key, value, arg, example))
    return cfg


def check_command_arguments(config_name: str, cfg: dict) -> dict:
    """:func:`check_arguments` for one command: :data:`ARGUMENTS` of ``config_name`` plus the kinds of
    the int/float/bool defaults of ``conf/<config_name>.yaml``."""
    inferred = _inferred(_yaml_defaults(config_name))
    schema = {k: a for k, (a, _) in inferred.items()}
    schema.update(ARGUMENTS.get(config_name, {}))
    return check_arguments(cfg, schema, {k: d for k, (_, d) in inferred.items()})


def run_cli(name: str, doc: str | None, argv: list[str] | None, compose: Callable[[list[str]], dict],
            body: Callable[[dict], str]) -> int:
    """The frame every console script shares; returns the process exit status.

    ``-h``/``--help`` prints ``doc``; otherwise ``allowed_targets=`` is applied
    (:func:`take_allowed_targets`), ``compose(argv)`` builds the config from the other arguments, its
    values are checked (:func:`check_command_arguments`, for the YAML ``name`` without ``gem-``),
    logging is set up and ``body(cfg)`` runs and returns the one line printed on stdout. Bad input
    (``ValueError``, ``FileNotFoundError``) becomes one ``<name>: error: ...`` line on stderr and exit
    status 2; Ctrl-C exits with 130.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(doc or name)
        return 0
    try:
        cfg = compose(take_allowed_targets(argv))
        check_command_arguments(name.removeprefix("gem-"), cfg)
        setup_logging(cfg)
        line = body(cfg)
    except (ValueError, FileNotFoundError) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    print(line)
    return 0
