"""Evaluate held-out *real* molecules with gem-evaluate (sanity anchors for the metrics).

    python experiments/benchmarks/eval_reference_sets.py qm9     # 10,000 random QM9 test molecules, digress
    python experiments/benchmarks/eval_reference_sets.py moses   # 25,000 random MOSES test molecules, moses

Writes the samples to $GEM_CACHE_DIR/eval_samples/, runs ``gem-evaluate`` as a subprocess (so
the wall time includes start-up, reference loading and cache misses), and stores the JSON line and
the markdown table under experiments/results/eval_<name>.{json,md}.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from graph_energy.metrics._util import cache_dir
from graph_energy.metrics.reference import dataset_split_smiles

RESULTS = Path(__file__).resolve().parents[1] / "results"

SEED = 0
RUNS = {
    "qm9": {"dataset": "qm9", "protocol": "digress", "split": "test", "n": 10_000},
    "moses": {"dataset": "moses", "protocol": "moses", "split": "test", "n": 25_000},
}


def main(name: str, extra: list[str]) -> None:
    run = RUNS[name]
    pool = dataset_split_smiles(run["dataset"], run["split"])
    # a uniform random subset: the split files are ordered (QM9 by GDB id, i.e. by size/composition)
    pick = np.random.default_rng(SEED).choice(len(pool), size=run["n"], replace=False)
    smiles = [pool[i] for i in pick]
    samples = cache_dir("eval_samples") / f"{name}_{run['split']}_{run['n']}_seed{SEED}.smi"
    samples.write_text("\n".join(smiles) + "\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = RESULTS / f"eval_{name}_{run['protocol']}.md"
    cmd = ["gem-evaluate", f"samples={samples}", f"dataset={run['dataset']}", f"protocol={run['protocol']}",
           f"out={md}", "progress=false", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    sys.stderr.write(proc.stderr[-4000:])
    if proc.returncode != 0:
        raise SystemExit(f"gem-evaluate failed with exit code {proc.returncode}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["samples_source"] = (f"{run['n']} SMILES drawn uniformly without replacement (numpy default_rng({SEED})) "
                                f"from the {run['dataset']} {run['split']} split")
    report["wall_time_s"] = wall
    report["command"] = " ".join(["gem-evaluate", f"samples=<{run['n']} random {name} {run['split']} SMILES>",
                                  *cmd[2:4], *extra])
    (RESULTS / f"eval_{name}_{run['protocol']}.json").write_text(json.dumps(report, indent=1) + "\n")
    text = md.read_text().replace(str(samples), report["samples_source"])
    md.write_text(text + f"\nTotal wall time of the command (2-core CPU shared with other jobs; reference caches "
                  f"as found at start): {wall:.1f} s\n")
    print(json.dumps({"name": name, "wall_s": round(wall, 1), "metrics": report["metrics"]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
