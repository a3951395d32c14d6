"""Phase 2 (contrastive fine-tuning) head to head with its phase-1 starting point, in one run.

    python experiments/benchmarks/bench_finetune.py --ckpt runs/train/<qm9 run>/checkpoints/last.pt \
        --steps 60 --num-samples 500 --work-dir <work dir> --out experiments/results/finetune_qm9

1. Fine-tunes ``--ckpt`` with ``gem-train experiment=qm9_finetune train.init_from=<ckpt>`` for ``--steps``
   updates (extra ``--override`` strings are passed on) and records the cost per update and the
   training diagnostics (data-negative energy gap, valid negatives, regulariser).
   ``--variant NAME:overrides`` adds further fine-tuning runs (e.g. with the replay buffer on).
2. ``--control``: the same number of updates from the same weights with the same optimizer and
   learning rate but without the contrastive term (``objective=transport``): separates "any further training"
   from "contrastive training", and gives the phase-1 cost per update under identical settings.
3. Samples ``--num-samples`` molecules from every model with the same sampler, the same node counts and
   the same seed; each model's energy switch is calibrated on the same validation graphs (per-size
   median of its own energies, since fine-tuning moves the energy scale).
4. Evaluates validity, uniqueness, novelty, VUN and FCD against the test split (DiGress-family protocol,
   largest-fragment validity; the FCD is sample-size dependent, so compare only within this table).

Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import platform
import time
from pathlib import Path

import torch
import yaml

import graph_energy
from graph_energy import samplers
from graph_energy.config import get_path, set_path
from graph_energy.samplers import build_sampler, calibrate_thresholds, generate
from graph_energy.training.checkpoint import load_energy_model

PRESETS = Path(graph_energy.__file__).parent / "conf" / "sampler"
log = logging.getLogger("bench_finetune")


def sampler_config(name_or_path: str, transport_steps: int | None, mixing_steps: int | None) -> dict:
    p = Path(name_or_path)
    cfg = samplers.sampler_config(yaml.safe_load((p if p.is_file() else PRESETS / f"{name_or_path}.yaml").read_text()))
    if transport_steps is not None:
        set_path(cfg, "phases.transport.max_steps", int(transport_steps))
    if mixing_steps is not None:
        set_path(cfg, "phases.mixing.max_steps", int(mixing_steps))
    return cfg


def run_training(ckpt: Path, run_dir: Path, steps: int, overrides: list[str], contrastive: bool) -> dict:
    """One fine-tuning run (or the transport-only control) through ``gem-train``'s ``train(cfg)``."""
    from omegaconf import OmegaConf

    from graph_energy.cli._config import compose_config
    from graph_energy.cli.train import train

    over = ["experiment=qm9_finetune", f"train.init_from={ckpt}", f"train.run_dir={run_dir}",
            f"train.max_steps={steps}", "train.val_every=0", f"train.ckpt_every={steps}", "tracker=default",
            "tracker.trackers.0.progress_bar=false", *overrides]
    if not contrastive:
        over.append("objective=transport")
    cfg = OmegaConf.create(compose_config("train", over))
    result = train(cfg)
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    keys = [k for k in ("train/loss", "train/loss_t", "train/loss_cl", "train/energy_gap", "train/energy_gap_weighted",
                        "train/neg_valid", "train/neg_valid_connected", "train/energy_reg", "train/energy_pos",
                        "train/energy_neg", "train/neg_sample_s", "train/neg_evals_per_graph") if rows and k in rows[0]]

    def pick(row: dict) -> dict:
        return {k.split("/", 1)[1]: float(row[k]) for k in keys if row.get(k) not in (None, "")}

    return {"contrastive": contrastive, "steps": result.step, "checkpoint": str(result.last_checkpoint),
            "train_time_s": result.train_time_s, "s_per_step": result.train_time_s / max(result.step, 1),
            "first_log": pick(rows[0]) if rows else {}, "last_log": pick(rows[-1]) if rows else {},
            "log": [{"step": int(r["step"]), **pick(r)} for r in rows]}


def sample_and_evaluate(name: str, ckpt: str, sampler_cfg: dict, calib_graphs: list, n: int, batch_size: int,
                        seed: int, evaluator) -> dict:
    loaded = load_energy_model(ckpt, use_ema=True)
    cal = calibrate_thresholds(loaded.model, calib_graphs, 0.5)
    sampler = build_sampler(sampler_cfg, cal, trusted=True)
    t0 = time.perf_counter()
    res = generate(loaded.model, loaded.spec, loaded.stats, n=n, batch_size=batch_size, seed=seed, sampler=sampler)
    wall = time.perf_counter() - t0
    summary = res.summary()
    report = evaluator.evaluate(res.smiles, source=name)
    m = report.metrics
    row = {"model": name, "checkpoint": ckpt, "num_samples": n, "sampling_s": wall,
           "evaluations_per_molecule": summary["evaluations_per_molecule"],
           "acceptance_rate": summary["acceptance_rate"], "mean_energy": summary["mean_energy"],
           "median_data_threshold": float(torch.tensor(list(cal.thresholds.values())).median())}
    for k in ("validity", "validity_strict", "validity_connected", "uniqueness", "novelty", "vun", "vun_connected",
              "vun_largest_fragment", "fcd/test"):
        if k in m:
            row[k] = m[k]
    row["warnings"] = list(getattr(report, "warnings", []))
    row["smiles_sample"] = [s for s in res.smiles if s][:10]
    return row


def write_markdown(out: Path, result: dict) -> None:
    a = result["args"]
    lines = [f"# Phase 2 (contrastive fine-tuning) vs its phase-1 start — {result['dataset']}", "",
             f"Command: `{result['command']}`", "",
             f"Machine: {result['machine']}. Phase-1 checkpoint: `{Path(a['ckpt']).name}` (step {result['phase1_step']}).",
             f"Sampler (all models): `{a['sampler']}` with transport max_steps="
             f"{get_path(result['sampler'], 'phases.transport.max_steps')}, mixing max_steps="
             f"{get_path(result['sampler'], 'phases.mixing.max_steps')}; {a['num_samples']} samples per model, "
             f"seed {a['seed']}, same node counts; switch thresholds = per-size median energy of "
             f"{result['calibration_graphs']} validation graphs under each model.",
             "Metrics: DiGress-family protocol restricted to validity/uniqueness/novelty/VUN/FCD; validity = largest "
             "fragment, FCD against the test split at this sample count (not comparable with published 10k-sample FCDs).",
             "", "| model | updates | s / update | validity | valid (strict) | valid (connected) | unique | VUN | "
             "VUN (connected) | FCD/test | evals/mol |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["models"]:
        tr = result["training"].get(r["model"], {})
        lines.append(f"| {r['model']} | {tr.get('steps', 0)} | {tr.get('s_per_step', float('nan')):.2f} | "
                     f"{r.get('validity', float('nan')):.3f} | {r.get('validity_strict', float('nan')):.3f} | "
                     f"{r.get('validity_connected', float('nan')):.3f} | {r.get('uniqueness', float('nan')):.3f} | "
                     f"{r.get('vun', float('nan')):.3f} | {r.get('vun_connected', float('nan')):.3f} | "
                     f"{r.get('fcd/test', float('nan')):.3f} | {r['evaluations_per_molecule']:.0f} |")
    for name, ft in result["training"].items():
        if not ft.get("contrastive"):
            continue
        f0, f1 = ft["first_log"], ft["last_log"]
        lines += ["", f"Fine-tuning diagnostics of `{name}` (first / last logged window): "
                  f"energy gap E(neg)-E(data) {f0.get('energy_gap', float('nan')):.3f} / {f1.get('energy_gap', float('nan')):.3f}; "
                  f"valid negatives {f0.get('neg_valid', float('nan')):.2f} / {f1.get('neg_valid', float('nan')):.2f}; "
                  f"valid connected negatives {f0.get('neg_valid_connected', float('nan')):.2f} / "
                  f"{f1.get('neg_valid_connected', float('nan')):.2f}; regulariser mean(E+^2+E-^2) "
                  f"{f0.get('energy_reg', float('nan')):.3f} / {f1.get('energy_reg', float('nan')):.3f}; "
                  f"sampling share of an update {f1.get('neg_sample_s', float('nan')):.2f} s "
                  f"({f1.get('neg_evals_per_graph', float('nan')):.0f} energy evaluations per negative)."]
    if result.get("notes"):
        lines += ["", *result["notes"]]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def _flag(key: str, value) -> str:
    name = "--" + key.replace("_", "-")
    if value is True:
        return name
    if isinstance(value, list):
        return " ".join(f"{name} {v}" for v in value)
    return f"{name} {value}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, help="phase-1 checkpoint")
    ap.add_argument("--steps", type=int, default=60, help="fine-tuning updates")
    ap.add_argument("--override", action="append", default=[], help="extra gem-train override (repeatable)")
    ap.add_argument("--control", action="store_true", help="also train and sample the transport-only control")
    ap.add_argument("--variant", action="append", default=[],
                    help="another fine-tuning run, NAME:override[,override...] (e.g. "
                         "replay:objective.replay.capacity=1024,objective.replay.fraction=0.75)")
    ap.add_argument("--finetuned", default=None, help="skip training: an existing fine-tuned checkpoint")
    ap.add_argument("--num-samples", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=250)
    ap.add_argument("--sampler", default="default", help="preset name in conf/sampler or a YAML file")
    ap.add_argument("--transport-steps", type=int, default=None, help="override the preset's transport cap")
    ap.add_argument("--mixing-steps", type=int, default=None, help="override the preset's MH steps")
    ap.add_argument("--calibration-graphs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--work-dir", required=True, help="absolute folder for the fine-tuning runs")
    ap.add_argument("--out", default="experiments/results/finetune_qm9")
    ap.add_argument("--note", action="append", default=[], help="a line appended to the markdown report")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("graph_energy.train", "graph_energy.data"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = Path(args.ckpt).expanduser().absolute()
    work = Path(args.work_dir).expanduser().absolute()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    training: dict = {}
    if args.finetuned:
        finetuned = str(Path(args.finetuned).expanduser().absolute())
    else:
        log.info("fine-tuning %s for %d updates", ckpt, args.steps)
        training["finetuned"] = run_training(ckpt, work / f"finetune-{stamp}", args.steps, args.override, True)
        finetuned = training["finetuned"]["checkpoint"]
        log.info("fine-tuning: %.2f s per update", training["finetuned"]["s_per_step"])
    for variant in args.variant:
        name, _, extra = variant.partition(":")
        if not name or name in ("phase-1", "finetuned", "transport-only"):
            raise SystemExit(f"--variant needs a new NAME before ':', got {variant!r}")
        training[name] = run_training(ckpt, work / f"{name}-{stamp}", args.steps,
                                      args.override + [o for o in extra.split(",") if o], True)
        log.info("%s: %.2f s per update", name, training[name]["s_per_step"])
    if args.control:
        training["transport-only"] = run_training(ckpt, work / f"control-{stamp}", args.steps, args.override, False)
        log.info("control: %.2f s per update", training["transport-only"]["s_per_step"])

    from graph_energy.data import load_dataset
    from graph_energy.metrics import Evaluator, Protocol
    from graph_energy.training.data import densify

    phase1 = load_energy_model(ckpt)
    dataset_cfg = phase1.config["dataset"]
    val = load_dataset(dataset_cfg).val
    idx = torch.arange(min(args.calibration_graphs, len(val)))
    calib = [densify(val, idx[i:i + 256], phase1.spec.num_atom_types, phase1.spec.num_bond_types)
             for i in range(0, len(idx), 256)]
    protocol = dataclasses.replace(Protocol.from_name("digress"), metrics=("basic", "fcd"))
    evaluator = Evaluator.from_dataset(protocol, dataset_cfg)
    scfg = sampler_config(args.sampler, args.transport_steps, args.mixing_steps)
    models = [("phase-1", str(ckpt)), ("finetuned", finetuned)]
    models += [(name, tr["checkpoint"]) for name, tr in training.items() if name != "finetuned"]
    rows = []
    for name, path in models:
        log.info("sampling %d molecules from %s", args.num_samples, name)
        rows.append(sample_and_evaluate(name, path, scfg, calib, args.num_samples, args.batch_size, args.seed,
                                        evaluator))
        log.info("%s: %s", name, {k: v for k, v in rows[-1].items() if k not in ("smiles_sample", "warnings")})
    public_args = {**vars(args), "ckpt": f"<phase-1 run>/checkpoints/{ckpt.name}", "work_dir": "<work dir>",
                   "finetuned": Path(args.finetuned).name if args.finetuned else None}
    result = {
        "dataset": str(dataset_cfg.get("name", "qm9")), "args": public_args, "phase1_step": phase1.step,
        "command": "python experiments/benchmarks/bench_finetune.py --ckpt <phase-1 run>/checkpoints/"
                   f"{ckpt.name} --work-dir <work dir> " + " ".join(
                       _flag(k, v) for k, v in vars(args).items()
                       if v not in (None, False, []) and k not in ("work_dir", "note", "ckpt", "finetuned")),
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads",
        "sampler": scfg, "calibration_graphs": sum(g.batch_size for g in calib),
        "training": {k: {kk: vv for kk, vv in v.items() if kk != "checkpoint"} for k, v in training.items()},
        "models": [{k: v for k, v in r.items() if k != "checkpoint"} for r in rows], "notes": args.note,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(out, result)
    log.info("wrote %s.json and %s.md", out, out)


if __name__ == "__main__":
    main()
