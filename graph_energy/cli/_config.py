"""Shared helpers of the console scripts: Hydra composition, logging set-up and the common ``main`` frame."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

__all__ = ["compose_config", "setup_logging", "run_cli", "json_safe"]


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


def run_cli(name: str, doc: str | None, argv: list[str] | None, compose: Callable[[list[str]], dict],
            body: Callable[[dict], str]) -> int:
    """The frame every console script shares; returns the process exit status.

    ``-h``/``--help`` prints ``doc``; otherwise ``compose(argv)`` builds the config, logging is set up
    and ``body(cfg)`` runs and returns the one line printed on stdout. Bad input (``ValueError``,
    ``FileNotFoundError``) becomes one ``<name>: error: ...`` line on stderr and exit status 2;
    Ctrl-C exits with 130.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(doc or name)
        return 0
    try:
        cfg = compose(argv)
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
