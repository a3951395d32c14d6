"""MOSES on one H100/H200: train a GEM model for a wall-clock budget, sample 25,000, evaluate (MOSES protocol).

    python experiments/gpu/train_moses.py --dry-run                         # print the commands only
    GEM_CACHE_DIR=$PWD/.gpu/cache python experiments/gpu/train_moses.py --data .gpu/moses --out $OUT/moses

Steps: a throughput probe (which also builds the dataset cache: 1.9 M molecules, ``--workers``
processes), phase 1 (``experiment=moses``, ``--model`` preset, default ``base``) sized so its
schedule completes inside ``--minutes`` and stopped at the deadline regardless, energy-switch
thresholds into the checkpoint, then ``gem-sample`` of ``--num-samples`` molecules on the GPU,
evaluated with the MOSES protocol (validity, uniqueness, novelty, FCD / SNN / Frag / Scaf against
Test and TestSF, Filters, IntDiv). With ``GEM_CACHE_DIR`` at the cache ``prepare.py moses`` wrote,
the Test/TestSF FCD statistics are the ones ``molsets`` ships. ``--metrics basic`` skips the
distribution metrics when device time is short.

Writes ``<out>/report.json``; copy it to ``experiments/results/moses_gpu.json`` to record it.
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
    ap.add_argument("--data", default=".gpu/moses", help="folder with the MOSES csv.gz files ('package': molsets)")
    ap.add_argument("--out", default="runs/gpu/moses")
    ap.add_argument("--model", default="base", help="model preset (tiny, small, base, paper)")
    ap.add_argument("--minutes", type=float, default=8.0, help="training budget, probe included")
    ap.add_argument("--probe-steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--num-samples", type=int, default=25000)
    ap.add_argument("--sample-batch-size", type=int, default=2500)
    ap.add_argument("--metrics", choices=["full", "basic"], default="full")
    ap.add_argument("--workers", type=int, default=14, help="dataset processing workers")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv)
    out = Path(args.out).expanduser()
    out = out if out.is_absolute() else ROOT / out
    r = Runner(out, args.dry_run)
    t_start = time.perf_counter()
    data = [] if args.data == "package" else [f"dataset.source.path={(ROOT / args.data).resolve()}"]
    common = [f"model={args.model}", "train.device=cuda", "train.num_threads=null", f"dataset.workers={args.workers}",
              "optim.schedule.kind=cosine", *data]
    probe = out / "probe"
    r.run(train_args("moses", probe, [*common, f"train.max_steps={args.probe_steps}", f"train.batch_size={args.batch_size}",
                                      "train.val_every=0", "train.ckpt_every=0", "train.log_every=10"]), "probe")
    rate = None if args.dry_run else graphs_per_second(probe)
    budget = 60.0 * args.minutes - (0.0 if args.dry_run else time.perf_counter() - t_start)
    budget = max(60.0, budget)
    steps = steps_for_budget(rate, args.batch_size, budget, default=3000)
    run = out / "phase1"
    r.run(train_args("moses", run, [*common, f"train.max_steps={steps}", f"train.batch_size={args.batch_size}",
                                    f"optim.optimizer.lr={args.lr}", "optim.schedule.warmup_steps=100",
                                    "train.val_every=1000", "train.ckpt_every=500", "train.log_every=50"]),
          "phase1", deadline_s=budget)
    ckpt = last_checkpoint(run)
    train_seconds = time.perf_counter() - t_start
    r.run([PY, "-m", "graph_energy.cli.calibrate", f"ckpt={ckpt}", "search.enabled=false", "write_checkpoint=true",
           "device=cuda", "num_threads=null", "split=test", "num_graphs=20000"], "calibrate")
    samples = out / "samples"
    r.run([PY, "-m", "graph_energy.cli.sample", f"ckpt={ckpt}", f"num_samples={args.num_samples}",
           f"batch_size={args.sample_batch_size}", "device=cuda", "num_threads=null", f"out={samples}",
           "overwrite=true", f"metrics={args.metrics}", "eval_protocol=moses", "n_jobs=14", "progress=false"], "sample")
    metrics = read_json(samples / "metrics.json")
    r.write({"recipe": "moses", "gpu": gpu_info(), "model": args.model, "probe_graphs_per_s": rate,
             "phase1_max_steps": steps, "phase1_budget_s": budget, "training_seconds": train_seconds,
             "total_seconds": time.perf_counter() - t_start, "sample_summary": read_json(samples / "summary.json"),
             "metrics": (metrics or {}).get("metrics"), "checkpoint": str(ckpt)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
