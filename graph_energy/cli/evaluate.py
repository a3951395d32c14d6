"""``gem-evaluate``: every metric of a protocol for a SMILES file, as one JSON line plus a markdown table.

    gem-evaluate samples=gen.smi dataset=qm9 protocol=digress
    gem-evaluate samples=gen.csv column=smiles dataset=moses protocol=moses
    gem-evaluate samples=gen.smi reference=ref.smi train=train.smi protocol=gdss

Unparsable SMILES count as invalid samples. The markdown table (with the published baselines) is
printed on stderr and written to ``out`` (default ``<samples>.<protocol>.eval.md``); stdout carries
the JSON line. Errors in the input (missing or empty file, unknown column, protocol or dataset, a
protocol whose package is not installed) print one ``gem-evaluate: error:`` line on stderr and exit
with 2.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from graph_energy.cli._config import run_cli

__all__ = ["main", "evaluate", "compose_config"]


def compose_config(overrides: list[str]) -> dict:
    """The composed ``evaluate`` config as a plain dict (``ValueError`` on a bad override or group)."""
    from graph_energy.cli._config import compose_config as compose

    return compose("evaluate", overrides, {"protocol": "available protocols: digress, gdss, moses"})


def default_out(samples: str, protocol: str) -> Path:
    p = Path(samples)
    return p.with_name(f"{p.name}.{protocol}.eval.md")


def evaluate(cfg: dict):
    """Run the evaluation described by a composed config; returns the :class:`EvalReport`."""
    from graph_energy.metrics import Evaluator, Protocol, read_smiles

    samples = cfg.get("samples")
    if samples in (None, "???", ""):
        raise ValueError("no samples file given; pass samples=PATH")
    protocol = Protocol.from_dict(cfg["protocol"])
    smiles = read_smiles(samples, cfg.get("column"))
    if cfg.get("limit"):
        smiles = smiles[: int(cfg["limit"])]
    t0 = time.perf_counter()
    evaluator = Evaluator.from_dataset(protocol, cfg["dataset"], reference_file=cfg.get("reference"),
                                       train_file=cfg.get("train"), column=None, n_jobs=cfg.get("n_jobs"),
                                       use_cache=bool(cfg.get("use_cache", True)),
                                       progress=bool(cfg.get("progress", True)), trusted=True)
    t_load = time.perf_counter() - t0
    report = evaluator.evaluate(smiles, source=str(samples))
    report.timings = {"load_references": t_load, **report.timings}
    return report


def _run(cfg: dict) -> str:
    """Evaluate, print the markdown table on stderr, write it (and the JSON report), return the JSON line."""
    if cfg.get("num_threads"):
        import torch

        torch.set_num_threads(int(cfg["num_threads"]))
    try:
        report = evaluate(cfg)
    except ImportError as err:  # a metric's optional package (fcd, eden, molsets' data files) is missing
        name = (cfg.get("protocol") or {}).get("name", "?")
        raise ValueError(f"protocol={name} needs a package that is not installed: {err}") from None
    out = Path(cfg["out"]) if cfg.get("out") else default_out(cfg["samples"], report.protocol)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = report.to_markdown()
    print(table, file=sys.stderr)
    out.write_text(table)
    if cfg.get("json_out"):
        Path(cfg["json_out"]).write_text(report.to_json() + "\n")
    for w in report.warnings:
        logging.getLogger("gem-evaluate").warning(w)
    logging.getLogger("gem-evaluate").info("markdown report written to %s", out)
    return report.to_json()


def main(argv: list[str] | None = None) -> int:
    return run_cli("gem-evaluate", __doc__, argv, compose_config, _run)


if __name__ == "__main__":
    sys.exit(main())
