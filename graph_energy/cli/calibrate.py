"""``gem-calibrate``: energy-switch thresholds and a kernel-knob search for one checkpoint.

    gem-calibrate ckpt=runs/train/<run>/checkpoints/last.pt out=calib/
    gem-calibrate ckpt=... base=paper search.num_samples=256 quantile=0.75
    gem-calibrate ckpt=... search.enabled=false write_checkpoint=true   # thresholds only, into the ckpt
    gem-calibrate ckpt=... ~search.grid.phases.mixing.kernel.proposal   # drop the proposal knobs
    gem-calibrate ckpt=... thresholds=per_size                          # each size on its own

1. Per node count, the ``quantile`` of the model energies of held-out data graphs (``split``) becomes
   the threshold at which a transport chain starts mixing; ``thresholds`` picks the estimator
   (``PooledQuantile``: pooled across sizes where a size has few graphs; ``PerSizeQuantile``: each
   size on its own, as calibrations before it).
2. A coordinate search over sampler knobs addressed by config path (``search.grid``, e.g.
   ``phases.mixing.kernel.proposal.beta_prop``, ``phases.mixing.kernel.beta_mh``,
   ``phases.transport.kernel.edits_per_step``), at the base sampler's fixed step budget, scored on
   decoded samples (``search.objective``; default: valid-and-unique fraction). Energy is never the
   objective.

Writes ``<out>/calibration.json``, ``<out>/sampler.yaml`` (use with ``gem-sample sampler_file=...``) and
``<out>/search.csv``; prints the search table on stderr and one JSON line on stdout.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path

from graph_energy.cli._config import run_cli

__all__ = ["main", "run", "store_in_checkpoint"]

log = logging.getLogger("graph_energy.calibrate")


def store_in_checkpoint(path: Path, calibration: dict, sampler_cfg: dict | None) -> None:
    """Add ``extras["calibration"]`` (and ``extras["sampler"]``) to a checkpoint, atomically."""
    import torch

    from graph_energy.training.checkpoint import save_checkpoint

    raw = torch.load(path, map_location="cpu", weights_only=True)
    extras = dict(raw.get("extras") or {})
    extras["calibration"] = calibration
    if sampler_cfg is not None:
        extras["sampler"] = sampler_cfg
    raw["extras"] = extras
    save_checkpoint(path, raw)


def threshold_method(node):
    """The threshold estimator named by the ``thresholds`` config node (``None``: the library default)."""
    from graph_energy.config import instantiate
    from graph_energy.samplers import ThresholdEstimator

    if node is None:
        return "pooled"
    if isinstance(node, str):
        return node
    est = instantiate(dict(node), trusted=True)
    if not isinstance(est, ThresholdEstimator):
        raise TypeError(f"thresholds._target_ must build a graph_energy.samplers.ThresholdEstimator "
                        f"(PooledQuantile or PerSizeQuantile), got {type(est).__name__}")
    return est


def _search_progress(grid: dict, passes: int):
    """``on_row`` callback logging ``candidate i/N`` with the elapsed time and a time-to-go estimate
    (``N`` counts every grid value once per pass, plus the base: an upper bound, repeats are not rerun)."""
    import time

    from graph_energy.calibration import flatten_grid

    total = 1 + max(passes, 1) * sum(len(v) for v in flatten_grid(grid).values())
    t0, count = time.perf_counter(), [0]

    def on_row(row) -> None:
        count[0] += 1
        spent = time.perf_counter() - t0
        log.info("search: candidate %d/%d done (score %.4f), %.0f s elapsed, at most ~%.0f s to go", count[0],
                 total, row.score, spent, spent / count[0] * max(total - count[0], 0))

    return on_row


def run(cfg: dict) -> dict:
    import torch
    import yaml

    from graph_energy.calibration import build_objective, calibrate_thresholds, held_out_graphs, search_knobs
    from graph_energy.cli.sample import load_sampling_setup
    from graph_energy.config import to_config

    if cfg.get("num_threads"):
        torch.set_num_threads(int(cfg["num_threads"]))
    loaded, base, ckpt = load_sampling_setup({**cfg, "calibration": None, "sampler_file": None}, sampler_key="base",
                                              warn=False)
    dataset_cfg = cfg.get("dataset") or loaded.config.get("dataset")
    if not dataset_cfg:
        raise ValueError(f"checkpoint {ckpt} records no dataset config; pass dataset=<name> (e.g. dataset=qm9)")
    if isinstance(dataset_cfg, str):
        dataset_cfg = {"name": dataset_cfg}
    graphs = held_out_graphs(dataset_cfg, loaded.spec, cfg.get("split", "val"), int(cfg["num_graphs"]))
    calibration = calibrate_thresholds(loaded.model, graphs, float(cfg["quantile"]),
                                       method=threshold_method(cfg.get("thresholds")))
    calibration.model_fingerprint = f"{Path(ckpt).name}@step{loaded.step}"
    log.info("thresholds (quantile %.2f, %s): %s", calibration.quantile, calibration.method,
             {k: round(v, 3) for k, v in calibration.thresholds.items()})
    out = {"ckpt": str(ckpt), "calibration": calibration.to_dict()}
    sampler_cfg = to_config(base)
    s = cfg.get("search") or {}
    rows = []
    if s.get("enabled", True):
        grid = dict(s.get("grid") or {})
        result = search_knobs(loaded.model, loaded.spec, loaded.stats, base, grid,
                              build_objective(s.get("objective"), trusted=True),
                              num_samples=int(s.get("num_samples", 128)), batch_size=int(s.get("batch_size", 128)),
                              seed=int(s.get("seed", 0)), passes=int(s.get("passes", 1)),
                              num_nodes=s.get("num_nodes"), device=cfg.get("device", "cpu"), calibration=calibration,
                              on_row=_search_progress(grid, int(s.get("passes", 1))))
        print(result.table(), file=sys.stderr)
        sampler_cfg, rows = result.config, result.rows
        out.update(best_knobs=result.best.knobs, best_score=result.best.score, best_summary=result.best.summary,
                   candidates=len(rows))
    if cfg.get("out"):
        folder = Path(cfg["out"]).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        calibration.save(folder / "calibration.json")
        (folder / "sampler.yaml").write_text(
            f"# written by gem-calibrate for {Path(ckpt).name}; use with gem-sample sampler_file=... "
            "calibration=...\n" + yaml.safe_dump(sampler_cfg, sort_keys=False))
        if rows:
            with open(folder / "search.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["knobs", "score", "validity", "uniqueness", "evaluations_per_molecule",
                            "acceptance_rate"])
                for r in rows:
                    w.writerow([json.dumps(r.knobs), r.score, r.summary["validity"], r.summary["uniqueness"],
                                r.summary["evaluations_per_molecule"], r.summary["acceptance_rate"]])
        out["out"] = str(folder)
    if cfg.get("write_checkpoint"):
        store_in_checkpoint(Path(ckpt), calibration.to_dict(), sampler_cfg)
        out["checkpoint_updated"] = True
    return out


def main(argv: list[str] | None = None) -> int:
    from graph_energy.cli.sample import compose_config

    return run_cli("gem-calibrate", __doc__, argv, lambda a: compose_config(a, "calibrate"),
                   lambda cfg: json.dumps(run(cfg)))


if __name__ == "__main__":
    sys.exit(main())
