"""Shared helper of the console scripts: compose a Hydra config into a plain dict."""

from __future__ import annotations

__all__ = ["compose_config", "setup_logging"]


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
