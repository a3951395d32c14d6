"""``gem-score``: energies of any molecules under a trained model, compared with held-out data of their size.

    gem-score samples=mols.smi                      # bundled QM9 model; writes mols.scores.csv beside the file
    gem-score samples=gen.csv column=smiles ckpt=runs/train/<run>/checkpoints/last.pt out=scores/
    gem-score samples=mols.smi reference=scores/reference.json

Every input row gets a row in the table (in input order): canonical SMILES, heavy atoms, energy, the
same-size reference median and out-of-distribution threshold (from the checkpoint's validation split,
cached), percentile, size-normalised ``z``, ``ood`` flag, rank (1 = most data-like) and, for molecules
the model cannot represent, the reason (element or charge outside the vocabulary, too many atoms,
invalid SMILES, ...). ``out=DIR`` writes ``scores.csv``, ``reference.json`` and ``summary.json``.
Prints one JSON summary line; bad input prints one ``gem-score: error:`` line and exits with status 2.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from graph_energy.cli._config import json_safe, run_cli

__all__ = ["main", "run", "compose_config"]

log = logging.getLogger("graph_energy.score")


def compose_config(overrides: list[str]) -> dict:
    from graph_energy.cli._config import compose_config as compose

    return compose("score", overrides)


def run(cfg: dict) -> dict:
    """Score the samples file as configured; returns the summary dict (the printed JSON line)."""
    import torch

    from graph_energy.api import bundled_model_path
    from graph_energy.metrics import read_smiles
    from graph_energy.scoring import ScoreReference, reference_for_model, score_smiles
    from graph_energy.training.checkpoint import load_energy_model

    if cfg.get("num_threads"):
        torch.set_num_threads(int(cfg["num_threads"]))
    if int(cfg.get("batch_size") or 0) < 1:
        raise ValueError(f"batch_size must be >= 1, got {cfg.get('batch_size')}")
    if not cfg.get("samples") or str(cfg["samples"]) == "???":
        raise ValueError("no molecules to score; pass samples=PATH to a SMILES file (one per line) or a CSV")
    samples = Path(str(cfg["samples"])).expanduser()
    smiles = read_smiles(samples, cfg.get("column"))
    ckpt = Path(cfg["ckpt"]).expanduser() if cfg.get("ckpt") else bundled_model_path("qm9")
    if not ckpt.is_file():
        raise FileNotFoundError(f"no checkpoint at {ckpt}; pass ckpt=PATH to a gem-train checkpoint")
    loaded = load_energy_model(ckpt, use_ema=bool(cfg.get("use_ema", True)), map_location=cfg.get("device", "cpu"))
    if cfg.get("reference"):
        reference = ScoreReference.load(cfg["reference"])
    else:
        reference = reference_for_model(loaded.model, loaded.spec, loaded.config.get("dataset"), str(cfg["split"]),
                                        cfg.get("max_per_size"), float(cfg["ood_quantile"]), int(cfg["min_count"]))
    report = score_smiles(loaded.model, loaded.spec, smiles, reference, int(cfg["batch_size"]), cfg.get("device", "cpu"))
    out = Path(cfg["out"]).expanduser() if cfg.get("out") else None
    table = out / "scores.csv" if out is not None else samples.with_name(samples.name + ".scores.csv")
    report.to_csv(table)
    summary = report.summary()
    summary.update(ckpt=str(ckpt), samples=str(samples), table=str(table),
                   top=[{"rank": r.rank, "smiles": r.smiles, "energy": r.energy, "z": r.z}
                        for r in report.ranked()[: int(cfg.get("top") or 0)]])
    if out is not None:
        reference.save(out / "reference.json")
        (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2))
    log.info("scored %d molecules (%d representable, %d flagged out-of-distribution) -> %s", summary["num_molecules"],
             summary["representable"], summary["ood"], table)
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_cli("gem-score", __doc__, argv, compose_config, lambda cfg: json.dumps(json_safe(run(cfg))))


if __name__ == "__main__":
    sys.exit(main())
