"""QM9 on one H100/H200: train ``model=base`` for at most 8 minutes, calibrate, sample 10,000, evaluate.

    python experiments/gpu/train_qm9_base.py --dry-run                       # print the commands only
    python experiments/gpu/train_qm9_base.py --data .gpu/qm9/qm9_index_smiles.csv.gz --out $OUT/qm9_base

Steps (every one a ``python -m graph_energy.cli.*`` call, see ``--dry-run``):

1. probe: ``--probe-steps`` updates of phase 1 to measure graphs/s on this GPU (also builds the
   dataset cache);
2. phase 1 (transport loss, ``experiment=qm9 model=base``) sized so its cosine schedule completes in
   ``--minutes`` minus the fine-tuning share, stopped at the deadline regardless (SIGTERM: the trainer
   checkpoints and exits);
3. phase 2 (contrastive, ``experiment=qm9_finetune``) from the phase-1 EMA weights for
   ``--finetune-minutes`` (0 skips it);
4. ``gem-calibrate`` thresholds only (pooled per-size quantile) into the checkpoint;
5. ``gem-sample`` 10,000 molecules on the GPU with the ``default`` sampler, evaluated with the DiGress
   protocol (validity, uniqueness, novelty, FCD, NSPDK vs QM9 test).

Training time (probe + phase 1 + phase 2) stays within ``--minutes`` (8). Writes
``<out>/report.json`` (commands, seconds, throughput, metrics) beside the runs; copy the report to
``experiments/results/qm9_base_gpu.json`` to record it. See ``experiments/gpu/README.md`` for the
wheels and data that must travel with the repository.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PY,
    ROOT,
    Runner,
    gpu_info,
    graphs_per_second,
    last_checkpoint,
    read_json,
    steps_for_budget,
    train_args,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=".gpu/qm9/qm9_index_smiles.csv.gz",
                    help="QM9 CSV with Index,SMILES (experiments/gpu/prepare.py qm9); 'package' = the qm9pack wheel")
    ap.add_argument("--out", default="runs/gpu/qm9_base")
    ap.add_argument("--minutes", type=float, default=8.0, help="training budget, probe included")
    ap.add_argument("--finetune-minutes", type=float, default=1.5, help="share of --minutes for phase 2 (0: none)")
    ap.add_argument("--probe-steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--finetune-batch-size", type=int, default=128)
    ap.add_argument("--num-samples", type=int, default=10000)
    ap.add_argument("--sample-batch-size", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=8, help="dataset processing workers")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv)
    out = Path(args.out).expanduser()
    out = out if out.is_absolute() else ROOT / out
    r = Runner(out, args.dry_run)
    t_start = time.perf_counter()
    data = [] if args.data == "package" else [f"dataset.source.path=[{(ROOT / args.data).resolve()}]"]
    common = ["model=base", "train.device=cuda", "train.num_threads=null", f"dataset.workers={args.workers}", *data]

    # 1. probe
    probe = out / "probe"
    r.run(train_args("qm9", probe, [*common, f"train.max_steps={args.probe_steps}", f"train.batch_size={args.batch_size}",
                                    "train.val_every=0", "train.ckpt_every=0", "train.log_every=10"]), "probe")
    rate = None if args.dry_run else graphs_per_second(probe)
    used = time.perf_counter() - t_start
    finetune_s = 60.0 * args.finetune_minutes
    phase1_s = max(60.0, 60.0 * args.minutes - used - finetune_s) if not args.dry_run else 60.0 * args.minutes - finetune_s
    steps = steps_for_budget(rate, args.batch_size, phase1_s, default=4000)

    # 2. phase 1
    p1 = out / "phase1"
    r.run(train_args("qm9", p1, [*common, f"train.max_steps={steps}", f"train.batch_size={args.batch_size}",
                                 f"optim.optimizer.lr={args.lr}", "train.val_every=500", "train.ckpt_every=500",
                                 "train.log_every=50"]), "phase1", deadline_s=phase1_s)
    ckpt = last_checkpoint(p1)

    # 3. phase 2
    if args.finetune_minutes > 0:
        p2 = out / "phase2"
        remaining = max(30.0, 60.0 * args.minutes - (time.perf_counter() - t_start)) if not args.dry_run else finetune_s
        r.run(train_args("qm9_finetune", p2, [*common, f"train.init_from={ckpt}", "train.max_steps=100000",
                                              f"train.batch_size={args.finetune_batch_size}", "train.val_every=0",
                                              "train.ckpt_every=100"]), "phase2", deadline_s=remaining)
        ckpt = last_checkpoint(p2)
    train_seconds = time.perf_counter() - t_start

    # 4. thresholds into the checkpoint, 5. sample + evaluate
    r.run([PY, "-m", "graph_energy.cli.calibrate", f"ckpt={ckpt}", "search.enabled=false", "write_checkpoint=true",
           "device=cuda", "num_threads=null", "num_graphs=20042"], "calibrate")
    samples = out / "samples"
    r.run([PY, "-m", "graph_energy.cli.sample", f"ckpt={ckpt}", f"num_samples={args.num_samples}",
           f"batch_size={args.sample_batch_size}", "device=cuda", "num_threads=null", f"out={samples}",
           "overwrite=true", "metrics=full", "eval_protocol=digress", "n_jobs=8", "progress=false"], "sample")
    metrics = read_json(samples / "metrics.json")
    r.write({"recipe": "qm9_base", "gpu": gpu_info(), "probe_graphs_per_s": rate, "phase1_max_steps": steps,
             "phase1_budget_s": phase1_s, "training_seconds": train_seconds,
             "total_seconds": time.perf_counter() - t_start, "sample_summary": read_json(samples / "summary.json"),
             "metrics": (metrics or {}).get("metrics"), "checkpoint": str(ckpt)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
