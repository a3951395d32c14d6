"""How strong the exact validity term should be next to a learned property target (a small sweep).

For a few QM9 test targets (``--targets``, 10 samples each) the bundled model samples
``E_θ + ((f(x) − target)/s)² + w_v·V(x)`` for several weights ``w_v`` of the exact ``valid`` term
(``conf/terms/valid.yaml``; any ``w_v > 0`` also brings the sampler's repair phase) and reports validity
and the guide's own MAE on the valid samples (the guide ``f`` is also the judge here: this picks a knob,
:mod:`property_targeting` measures against an independent oracle).

    python experiments/benchmarks/property_valid_sweep.py --guide runs/property_targeting/mu_guide/checkpoints/last.pt

Writes ``experiments/results/property_valid_sweep.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from property_common import RESULTS, environment, qm9_labelled_split, write_json
from property_targeting import PROPS, mae, predict, target_run

import graph_energy as ge
from graph_energy.terms import PredictorTerm, Target, build_terms, load_predictor, preset


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--guide", required=True, help="guiding predictor checkpoint")
    p.add_argument("--property", default="mu", choices=list(PROPS))
    p.add_argument("--targets", type=int, default=10)
    p.add_argument("--per-target", type=int, default=10)
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.001, 0.01, 1.0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "property_valid_sweep.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    model, guide = ge.load("qm9"), load_predictor(args.guide)
    smiles, labels = qm9_labelled_split("test", [args.property])
    pick = np.random.default_rng(args.seed).choice(len(smiles), args.targets, replace=False)
    targets = labels[args.property][pick]
    info = PROPS[args.property]

    def term_for(t):
        return PredictorTerm(predictor=guide, penalty=Target(float(t), scale=info["scale"]), weight=info["weight"],
                             name=f"{args.property}_target")

    rows = []
    for w in args.weights:
        extra = build_terms({"valid": preset("valid", weight=w)}, model.spec) if w > 0 else []
        t0 = time.perf_counter()
        out = target_run(model, term_for, targets, args.per_target, args.seed + 1000, "default", extra)
        valid = [[s for s in r if s] for r in out]
        rows.append({"valid_weight": w, "repair_phase": w > 0,
                     "validity": sum(map(len, valid)) / sum(map(len, out)),
                     "guide_mae": mae([predict(guide, r, model.spec) for r in valid], targets) * info["factor"],
                     "seconds": time.perf_counter() - t0})
        print(f"w_v={w:g}: validity {rows[-1]['validity']:.3f}, guide MAE {rows[-1]['guide_mae']:.3f} {info['unit']}",
              flush=True)
    write_json(Path(args.out), {"property": args.property, "unit": info["unit"], "guide": args.guide,
                          "targets": args.targets, "samples_per_target": args.per_target, "seed": args.seed,
                          "rows": rows, "environment": environment()})


if __name__ == "__main__":
    main()
