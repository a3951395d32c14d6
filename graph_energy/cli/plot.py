"""``gem-plot``: PNG curves of the metrics of any training run directory.

    gem-plot run=runs/train/<run>                # writes <run>/loss.png and <run>/metrics.png
    gem-plot run=runs/train/<run> out=figures/   # somewhere else

``gem-train`` draws the same files at the end of every run; this command redraws them at any time
(during a run too) from ``metrics.csv`` (or ``metrics.jsonl``). Prints one JSON line with the files.
Errors in the input print one ``gem-plot: error:`` line on stderr and exit with status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from graph_energy.cli._config import run_cli

__all__ = ["main", "run", "compose_config"]


def compose_config(overrides: list[str]) -> dict:
    from graph_energy.cli._config import compose_config as compose

    return compose("plot", overrides)


def run(cfg: dict) -> dict:
    from graph_energy.tracking import plot_metrics

    run_dir = cfg.get("run")
    if run_dir in (None, "", "???"):
        raise ValueError("no run directory given; pass run=<run dir> (e.g. run=runs/train/<date>_<time>)")
    path = Path(str(run_dir)).expanduser()
    if not path.is_dir():
        raise ValueError(f"run={path} is not a directory; pass the run directory of a gem-train run")
    try:
        files = plot_metrics(path, Path(cfg["out"]).expanduser() if cfg.get("out") else None)
    except ImportError as err:
        raise ValueError(f"gem-plot needs matplotlib ({err}); pip install matplotlib") from None
    if not files:
        raise ValueError(f"{path} has no logged metrics yet; plot again once the run has logged a step")
    return {"run": str(path), "files": [str(f) for f in files]}


def main(argv: list[str] | None = None) -> int:
    return run_cli("gem-plot", __doc__, argv, compose_config, lambda cfg: json.dumps(run(cfg)))


if __name__ == "__main__":
    sys.exit(main())
