"""Sampler presets head to head on one checkpoint: energy evaluations per molecule, molecules/s,
validity and uniqueness.

    python experiments/benchmarks/bench_sampler.py --ckpt runs/.../last.pt --num-samples 256 \
        --presets paper default --out experiments/results/sampler_benchmark

Every preset samples the same node counts with the same seed. The energy switch of presets that use
it is calibrated once (per-size median of held-out energies) unless the checkpoint carries a
calibration. Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import torch
import yaml

import graph_energy
from graph_energy.samplers import Calibration, build_sampler, calibrate_thresholds, generate
from graph_energy.training.checkpoint import load_energy_model

PRESETS = Path(graph_energy.__file__).parent / "conf" / "sampler"


def preset(name_or_path: str) -> dict:
    p = Path(name_or_path)
    if not p.is_file():
        p = PRESETS / f"{name_or_path}.yaml"
    return yaml.safe_load(p.read_text())


def calibration_for(loaded, args) -> Calibration:
    if args.calibration:
        return Calibration.load(args.calibration)
    if loaded.extras.get("calibration"):
        return Calibration.from_dict(loaded.extras["calibration"])
    from graph_energy.cli.calibrate import held_out_graphs

    ds = loaded.config.get("dataset")
    graphs = held_out_graphs(ds, loaded.spec, "val", args.num_calibration_graphs)
    return calibrate_thresholds(loaded.model, graphs, args.quantile)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--presets", nargs="+", default=["paper", "default"], help="preset names or YAML paths")
    ap.add_argument("--num-samples", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quantile", type=float, default=0.5)
    ap.add_argument("--num-calibration-graphs", type=int, default=2000)
    ap.add_argument("--calibration", default=None, help="calibration JSON (default: checkpoint or computed)")
    ap.add_argument("--num-threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="output prefix for .json and .md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.num_threads:
        torch.set_num_threads(args.num_threads)

    loaded = load_energy_model(args.ckpt)
    t0 = time.perf_counter()
    calibration = calibration_for(loaded, args)
    cal_time = time.perf_counter() - t0
    rows = []
    for name in args.presets:
        cfg = preset(name)
        sampler = build_sampler(cfg, calibration)
        res = generate(loaded.model, loaded.spec, loaded.stats, n=args.num_samples, batch_size=args.batch_size,
                       seed=args.seed, sampler=sampler)
        s = res.summary()
        s["preset"] = name
        s["sampler"] = cfg
        rows.append(s)
        logging.info("%s: %s", name, {k: v for k, v in s.items() if k != "sampler"})
    base = rows[0]["evaluations_per_molecule"]
    report = {
        "ckpt": Path(args.ckpt).name, "step": loaded.step, "num_samples": args.num_samples, "seed": args.seed,
        "batch_size": args.batch_size, "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
        "calibration": calibration.to_dict(), "calibration_seconds": cal_time, "results": rows,
    }
    lines = ["| preset | evals/mol | vs first | molecules/s | validity | connected | uniqueness | valid&unique | "
             "accept | no-op | transport steps | mixing steps | switch (threshold/arrived/cap) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sw = r["switch_reasons"]
        lines.append(
            f"| {r['preset']} | {r['evaluations_per_molecule']:.1f} | {r['evaluations_per_molecule'] / base:.3f} | "
            f"{r['molecules_per_s']:.2f} | {r['validity']:.3f} | {r['connected_validity']:.3f} | "
            f"{r['uniqueness']:.3f} | {r['valid_unique']:.3f} | {r['acceptance_rate']:.3f} | {r['noop_rate']:.3f} | "
            f"{r['mean_transport_steps']:.1f} | {r['mean_mixing_steps']:.1f} | "
            f"{sw['threshold']}/{sw['arrived']}/{sw['cap']} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(report, indent=2))
        out.with_suffix(".md").write_text(
            f"# Sampler benchmark\n\ncheckpoint `{report['ckpt']}` (step {loaded.step}), {args.num_samples} samples "
            f"per preset, seed {args.seed}, batch {args.batch_size}, CPU, {report['torch_threads']} torch threads.\n\n"
            + table + "\n")


if __name__ == "__main__":
    main()
