"""Strip a training checkpoint to a small, self-contained model bundle (what ships in graph_energy/assets/).

    python experiments/bundle_model.py runs/train/<run>/checkpoints/last.pt graph_energy/assets/qm9.pt
    python experiments/bundle_model.py CKPT OUT --half                 # fp16 weights (half the size)
    python experiments/bundle_model.py CKPT OUT --recalibrate --num-graphs 2000

The bundle keeps the EMA weights (the raw weights when the run has no EMA) as ``model``, the dataset
spec and statistics, the model/dataset/noise parts of the config (absolute paths removed), the last
metrics, and ``extras``: the energy-switch ``calibration`` (taken from the checkpoint, or computed
on the training dataset's validation split when absent or with ``--recalibrate``), a tuned
``sampler`` if ``gem-calibrate`` stored one, and a ``bundle`` record (source step, dtype). Optimizer,
scheduler, RNG and data-loader states are dropped. The result loads with
``graph_energy.training.checkpoint.load_energy_model`` / ``ge.load(path)`` / ``gem-sample ckpt=OUT``.

After writing, the bundle is reloaded and its energies on random graphs are compared with the
source model's; the script fails if they disagree or the file exceeds ``--max-mb`` (default 20).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import torch

from graph_energy.training.checkpoint import load_checkpoint, load_energy_model, save_checkpoint

log = logging.getLogger("bundle_model")

#: Config sections kept in a bundle (what rebuilding, sampling and evaluating need, plus provenance).
KEEP_SECTIONS = ("model", "dataset", "noise", "coupling", "objective", "loss", "optim", "train", "seed")
DROP_TRAIN_KEYS = ("run_dir", "resume", "device", "num_threads")


def _scrub(node, where: str = ""):
    """Copy of a config with machine-specific absolute paths replaced by ``None``."""
    if isinstance(node, dict):
        return {k: _scrub(v, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_scrub(v, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str) and (node.startswith(("/", "~")) or (len(node) > 2 and node[1:3] == ":\\")):
        log.info("dropping the absolute path in config %s", where)
        return None
    return node


def bundle_config(config: dict) -> dict:
    cfg = {k: config[k] for k in KEEP_SECTIONS if k in config}
    if isinstance(cfg.get("train"), dict):
        cfg["train"] = {k: v for k, v in cfg["train"].items() if k not in DROP_TRAIN_KEYS}
    return _scrub(cfg)


def _cast(state: dict, half: bool) -> dict:
    out = {}
    for k, v in state.items():
        v = v.detach().cpu().clone()
        if half and v.is_floating_point():
            v = v.half()
        out[k] = v
    return out


def random_graphs(spec, stats, n: int = 32, seed: int = 0):
    """A dense batch of random graphs with training-like sizes (for the bundle check)."""
    from graph_energy.data.dense import DenseGraph, pair_mask

    gen = torch.Generator().manual_seed(seed)
    sizes = (torch.as_tensor(stats.sample_num_nodes(n, gen)).long() if stats is not None
             else torch.randint(1, spec.max_nodes + 1, (n,), generator=gen))
    N = int(spec.max_nodes)
    mask = torch.arange(N)[None] < sizes[:, None]
    x = torch.randint(0, spec.num_atom_types, (n, N), generator=gen)
    e = torch.randint(0, spec.num_bond_types, (n, N, N), generator=gen).triu(1)
    e = (e + e.transpose(1, 2)) * pair_mask(mask)
    return DenseGraph.from_labels(x, e, mask, spec.num_atom_types, spec.num_bond_types)


def compute_calibration(loaded, dataset_cfg, num_graphs: int, quantile: float, fingerprint: str,
                        method: str = "pooled") -> dict | None:
    """Switch thresholds of the bundled model from the validation split of its training dataset."""
    from graph_energy.calibration import calibrate_thresholds, held_out_graphs

    ds = dataset_cfg
    if not ds:
        log.warning("the checkpoint records no dataset: the bundle gets no switch calibration")
        return None
    cal = calibrate_thresholds(loaded.model, held_out_graphs(ds, loaded.spec, "val", num_graphs), quantile,
                               method=method)
    cal.model_fingerprint = fingerprint
    log.info("calibrated the energy switch on %d validation graphs (quantile %.2f, %s)", sum(cal.counts.values()),
             quantile, method)
    return cal.to_dict()


def bundle(ckpt_path: Path, out: Path, half: bool = False, recalibrate: bool = False, num_graphs: int = 2000,
           quantile: float = 0.5, max_mb: float = 20.0, use_ema: bool = True,
           threshold_method: str = "pooled") -> dict:
    ckpt = load_checkpoint(ckpt_path)
    weights = ckpt.ema if (use_ema and ckpt.ema is not None) else ckpt.model
    source = "ema" if weights is ckpt.ema else "model"
    extras = {k: v for k, v in ckpt.extras.items() if k in ("calibration", "sampler")}
    extras["bundle"] = {"source_checkpoint": ckpt_path.name, "source_step": ckpt.step, "weights": source,
                        "dtype": "float16" if half else "float32"}
    payload = {"step": ckpt.step, "model": _cast(weights, half), "ema": None, "config": bundle_config(ckpt.config),
               "spec": ckpt.spec, "stats": ckpt.stats, "metrics": dict(ckpt.metrics), "extras": extras}
    save_checkpoint(out, payload)
    os.chmod(out, 0o644)
    loaded = load_energy_model(out)
    if recalibrate or "calibration" not in extras:
        cal = compute_calibration(loaded, ckpt.config.get("dataset"), num_graphs, quantile,
                                  f"{ckpt_path.name}@step{ckpt.step}", threshold_method)
        if cal is not None:
            extras["calibration"] = cal
            save_checkpoint(out, payload)
            os.chmod(out, 0o644)
    # the bundle must score graphs like the source model
    source_model = load_energy_model(ckpt_path, use_ema=use_ema).model
    graphs = random_graphs(loaded.spec, loaded.stats)
    with torch.no_grad():
        ref, got = source_model(graphs), loaded.model(graphs)
    err = float((ref - got).abs().max())
    tol = 1e-2 * (1 + float(ref.abs().max())) if half else 1e-4 * (1 + float(ref.abs().max()))
    size_mb = out.stat().st_size / 2**20
    report = {"out": str(out), "size_mb": round(size_mb, 3), "step": ckpt.step, "weights": source,
              "dtype": extras["bundle"]["dtype"], "calibrated": "calibration" in extras,
              "tuned_sampler": "sampler" in extras, "max_energy_diff": err,
              "parameters": sum(p.numel() for p in loaded.model.parameters())}
    cal = extras.get("calibration")
    if cal:
        # sanity check: a usable energy puts held-out data below random graphs
        counts = {int(k): v for k, v in (cal.get("counts") or {}).items()}
        th = {int(k): float(v) for k, v in cal["thresholds"].items()}
        w = torch.tensor([float(counts.get(k, 1)) for k in th])
        report["data_energy_median"] = float((torch.tensor(list(th.values())) * w).sum() / w.sum())
        report["random_energy_median"] = float(got.median())
        if report["data_energy_median"] >= report["random_energy_median"]:
            log.warning("held-out molecules score HIGHER energy (%.3g) than random graphs (%.3g): samples will "
                        "be poor; train longer / run the contrastive phase before shipping this model",
                        report["data_energy_median"], report["random_energy_median"])
    if err > tol:
        raise SystemExit(f"bundle check failed: energies differ from the source model by {err:.3g} (> {tol:.3g})")
    if size_mb > max_mb:
        raise SystemExit(f"bundle is {size_mb:.1f} MB > {max_mb} MB; try --half or a smaller model")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt", type=Path, help="training checkpoint (e.g. <run_dir>/checkpoints/last.pt)")
    ap.add_argument("out", type=Path, help="bundle to write (e.g. graph_energy/assets/qm9.pt)")
    ap.add_argument("--half", action="store_true", help="store fp16 weights (loaded back as fp32)")
    ap.add_argument("--no-ema", action="store_true", help="bundle the raw weights instead of the EMA ones")
    ap.add_argument("--recalibrate", action="store_true", help="recompute the switch calibration even if stored")
    ap.add_argument("--num-graphs", type=int, default=2000, help="validation graphs for the calibration")
    ap.add_argument("--quantile", type=float, default=0.5, help="energy quantile of the switch thresholds")
    ap.add_argument("--threshold-method", choices=["pooled", "per_size"], default="pooled",
                    help="estimator of the per-size thresholds (per_size: the rule of the shipped calibration)")
    ap.add_argument("--max-mb", type=float, default=20.0, help="fail above this file size")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args.ckpt.resolve() == args.out.resolve():
        ap.error("OUT must differ from CKPT")
    report = bundle(args.ckpt, args.out, half=args.half, recalibrate=args.recalibrate, num_graphs=args.num_graphs,
                    quantile=args.quantile, max_mb=args.max_mb, use_ema=not args.no_ema,
                    threshold_method=args.threshold_method)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
