"""``gem-data``: prepare a dataset (or load it from cache) and print one JSON summary line.

    gem-data dataset=qm9
    gem-data dataset=moses dataset.workers=2
    gem-data dataset=smiles dataset.path=mols.smi
    gem-data dataset=zinc250k dataset.path=250k_rdkit.csv dataset.test_idx_path=valid_idx_zinc250k.json

Errors in the input (unknown dataset, missing data package, bad file) print one ``gem-data: error:``
line on stderr and exit with status 2.
"""

from __future__ import annotations

import json
import sys

from graph_energy.cli._config import run_cli

__all__ = ["main", "prepare", "compose_config"]


def compose_config(overrides: list[str]) -> dict:
    """The composed ``data`` config as a plain dict (``ValueError`` on a bad override or group)."""
    from graph_energy.cli._config import compose_config as compose
    from graph_energy.data.datasets import DATASETS

    return compose("data", overrides, {"dataset": f"available datasets: {', '.join(DATASETS)}"})


def prepare(cfg: dict) -> dict:
    """Load the dataset of ``cfg['dataset']`` and return its summary (the printed JSON line)."""
    from graph_energy.data import load_dataset

    return load_dataset(cfg["dataset"]).summary()


def main(argv: list[str] | None = None) -> int:
    return run_cli("gem-data", __doc__, argv, compose_config, lambda cfg: json.dumps(prepare(cfg)))


if __name__ == "__main__":
    sys.exit(main())
