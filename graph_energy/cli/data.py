"""``gem-data``: prepare a dataset (or load it from cache) and print one JSON summary line.

    gem-data dataset=qm9
    gem-data dataset=moses dataset.workers=2
    gem-data dataset=smiles dataset.source.path=mols.smi
    gem-data dataset=zinc250k dataset.source.path=250k_rdkit.csv dataset.source.test_idx_path=valid_idx_zinc250k.json
    gem-data dataset=custom dataset.source._target_=mypkg.MySource +dataset.source.size=100

Errors in the input (unknown dataset, missing data package, bad file) print one ``gem-data: error:``
line on stderr and exit with status 2.
"""

from __future__ import annotations

import json
import sys
from importlib import resources

from graph_energy.cli._config import run_cli

__all__ = ["main", "prepare", "compose_config"]


def _dataset_options() -> list[str]:
    folder = resources.files("graph_energy.conf") / "dataset"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def compose_config(overrides: list[str]) -> dict:
    """The composed ``data`` config as a plain dict (``ValueError`` on a bad override or group)."""
    from graph_energy.cli._config import compose_config as compose

    return compose("data", overrides, {"dataset": f"available datasets: {', '.join(_dataset_options())}"})


def prepare(cfg: dict) -> dict:
    """Load the dataset of ``cfg['dataset']`` (the user's own config: any source class may be built)
    and return its summary (the printed JSON line)."""
    from graph_energy.data import load_dataset

    if cfg.get("num_threads"):
        import torch

        torch.set_num_threads(int(cfg["num_threads"]))
    return load_dataset(cfg["dataset"], trusted=True).summary()


def main(argv: list[str] | None = None) -> int:
    return run_cli("gem-data", __doc__, argv, compose_config, lambda cfg: json.dumps(prepare(cfg)))


if __name__ == "__main__":
    sys.exit(main())
