"""``gem-interpolate``: a low-energy path of single edits between two molecules.

    gem-interpolate a=CCO b=c1ccoc1 out=interp/
    gem-interpolate a=... b=... ckpt=runs/train/<run>/checkpoints/last.pt beam_width=32 invalid_penalty=1.0

The two molecules are aligned node by node (padding the smaller one with absent nodes), then a beam
search orders the differing coordinates so that the highest energy along the path is as low as it
can find; the same edits in a random order (the naive path) are shown beside it. Writes
``<out>/path.json`` (every step: edit, SMILES, validity, energy; the naive path too), ``<out>/path.smi``,
``<out>/strip.png`` (the molecules) and ``<out>/energy.png`` (the energy profiles). Prints one JSON
summary line; bad input prints one ``gem-interpolate: error:`` line and exits with status 2.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from graph_energy.cli._config import json_safe, run_cli

__all__ = ["main", "run", "compose_config"]

log = logging.getLogger("graph_energy.interpolate")


def compose_config(overrides: list[str]) -> dict:
    from graph_energy.cli._config import compose_config as compose
    from graph_energy.cli._smiles_args import quote_smiles_overrides

    return compose("interpolate", quote_smiles_overrides(overrides, ("a", "b")))


def run(cfg: dict) -> dict:
    """Interpolate as configured; returns the summary dict (the printed JSON line)."""
    import torch

    from graph_energy.api import bundled_model_path
    from graph_energy.interpolation import interpolate
    from graph_energy.training.checkpoint import load_energy_model

    for key in ("a", "b"):
        if not cfg.get(key) or str(cfg[key]) == "???":
            raise ValueError(f"missing {key}=SMILES; pass both ends, e.g. a=CCO b=c1ccoc1")
    if int(cfg.get("beam_width") or 0) < 1:
        raise ValueError(f"beam_width must be >= 1, got {cfg.get('beam_width')}")
    if cfg.get("num_threads"):
        torch.set_num_threads(int(cfg["num_threads"]))
    ckpt = Path(cfg["ckpt"]).expanduser() if cfg.get("ckpt") else bundled_model_path("qm9")
    if not ckpt.is_file():
        raise FileNotFoundError(f"no checkpoint at {ckpt}; pass ckpt=PATH to a gem-train checkpoint")
    loaded = load_energy_model(ckpt, use_ema=bool(cfg.get("use_ema", True)), map_location=cfg.get("device", "cpu"))
    res = interpolate(loaded.model, loaded.spec, str(cfg["a"]), str(cfg["b"]), int(cfg["beam_width"]),
                      float(cfg.get("invalid_penalty") or 0.0), int(cfg.get("seed") or 0), cfg.get("device", "cpu"))
    summary = res.summary()
    summary["ckpt"] = str(ckpt)
    if cfg.get("out"):
        summary["files"] = res.save(Path(cfg["out"]), loaded.spec, images=bool(cfg.get("images", True)))
    log.info("%s -> %s: %d steps, max energy %.3f (naive %.3f)", summary["a"], summary["b"], summary["steps"],
             summary["max_energy"], summary["naive_max_energy"])
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_cli("gem-interpolate", __doc__, argv, compose_config, lambda cfg: json.dumps(json_safe(run(cfg))))


if __name__ == "__main__":
    sys.exit(main())
