"""Energy-switch ablation on the bundled QM9 model at equal energy evaluations per molecule.

    python experiments/benchmarks/switch_ablation.py             # 2,000 samples per variant (~1 h on 2 cores)
    python experiments/benchmarks/switch_ablation.py --quick     # 256 samples per variant

Every variant starts from the ``default`` preset (multi-edit transport, energy switch, 200 annealed
MH steps) and changes one thing: the thresholds (the shipped per-size median; pooled thresholds at
the 0.25 / 0.5 / 0.75 / 0.9 quantiles; the pooled median plus an energy margin, so chains switch
earlier), the switch itself (energy criterion off: chains switch when transport arrives), a phase
(transport only; mixing only from noise), or the transport kernel (single-edit transport, which
arrives later, with and without the switch). The mixing step cap of each variant is searched so
that its mean evaluations per molecule match the shipped sampler's within ±5 % (transport only
cannot spend more: it is reported at its own cost). Thresholds are fitted on validation graphs
(``PooledQuantile``); samples are scored with the DiGress protocol against QM9 test (validity,
uniqueness, novelty, FCD with a normal-approximation bootstrap 95 % interval; FCD is biased upward at small sample
sizes, so the table also gives the FCD of as many real test molecules).

Writes ``experiments/results/switch_ablation{,_quick}.{json,md}``.
"""

from __future__ import annotations

import argparse
import copy
import logging
import time

import torch
from sampling_common import (
    RESULTS,
    QM9Reference,
    Variant,
    environment,
    fmt_ci,
    match_budget,
    phase_cfg,
    preset,
    run_summary,
    write_json,
)

import graph_energy as ge
from graph_energy.calibration import held_out_graphs
from graph_energy.samplers import PooledQuantile
from graph_energy.samplers.thresholds import data_energies

QUANTILES = (0.25, 0.5, 0.75, 0.9)
MARGIN = 5.0


def with_switch(cfg: dict, **switch) -> dict:
    cfg = copy.deepcopy(cfg)
    phase_cfg(cfg, "transport")["switch"].update(switch)
    return cfg


def single_edit(cfg: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    phase_cfg(cfg, "transport")["kernel"]["edits_per_step"] = 1
    phase_cfg(cfg, "transport")["max_steps"] = 225
    return cfg


def only(cfg: dict, name: str) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg["phases"] = [p for p in cfg["phases"] if p["name"] == name]
    if name == "transport":  # arrived chains are done
        cfg["phases"][0]["switch"] = {"_target_": "graph_energy.samplers.Switch", "on_arrival": True}
    return cfg


def variants(model, pooled: dict) -> list[Variant]:
    base = preset("default")
    out = [Variant("shipped thresholds (per-size median)", base, model.calibration, budget_phase=None,
                   note="the bundled sampler as shipped; sets the evaluation budget")]
    for q in QUANTILES:
        out.append(Variant(f"pooled q={q:g}", base, pooled[q]))
    out.append(Variant(f"pooled median + {MARGIN:g}", with_switch(base, margin=MARGIN), pooled[0.5],
                       note="switches earlier, mixes longer"))
    out.append(Variant("energy criterion off", with_switch(base, energy=False), None,
                       note="switch when transport arrives"))
    out.append(Variant("transport only", only(base, "transport"), None, budget_phase=None,
                       note="cannot spend the budget: stops when it arrives"))
    out.append(Variant("mixing only", only(base, "mixing"), None, note="MH from noise"))
    single = single_edit(base)
    out.append(Variant("single-edit transport, pooled q=0.5", single, pooled[0.5]))
    out.append(Variant("single-edit transport, pooled q=0.9", single, pooled[0.9]))
    out.append(Variant("single-edit transport, energy off", with_switch(single, energy=False), None))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--num-samples", type=int, default=2000)
    ap.add_argument("--pilot-samples", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates of the FCD interval")
    ap.add_argument("--calibration-graphs", type=int, default=20042, help="validation graphs (all of QM9's)")
    ap.add_argument("--only", nargs="*", default=None, help="run only variants whose name contains one of these")
    ap.add_argument("--quick", action="store_true", help="256 samples, 64-chain pilots, 50 bootstrap replicates")
    args = ap.parse_args()
    if args.quick:
        args.num_samples, args.pilot_samples, args.bootstrap = 256, 64, 50
        args.calibration_graphs = min(args.calibration_graphs, 2000)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    out = RESULTS / ("switch_ablation_quick" if args.quick else "switch_ablation")
    model = ge.load("qm9")
    energy, size = data_energies(model.model, held_out_graphs(dict(model.config["dataset"]), model.spec, "val",
                                                              args.calibration_graphs))
    pooled = {q: PooledQuantile().fit(energy, size, q) for q in QUANTILES}
    ref = QM9Reference()
    rows, target = [], None
    for v in variants(model, pooled):
        if args.only and v.budget_phase is not None and not any(s in v.name for s in args.only):
            continue
        tv = time.perf_counter()
        m = match_budget(model, v, target if v.budget_phase else None, args.num_samples, args.seed, args.batch_size,
                         n_pilot=args.pilot_samples)
        if target is None and v.budget_phase is None and v.name.startswith("shipped"):
            target = m.achieved
        metrics = ref.evaluate(m.result.smiles, args.bootstrap, args.seed)
        cal = v.calibration
        rows.append({"name": v.name, "note": v.note, "evaluations_per_molecule": m.achieved, "target": m.target,
                     "deviation": m.deviation, "budget_steps": m.steps, "budget_history": m.history,
                     "sampler": v.with_steps(m.steps) if m.steps is not None else v.sampler,
                     "calibration": None if cal is None else {"method": cal.method, "quantile": cal.quantile,
                                                              "thresholds": cal.thresholds},
                     **metrics, **run_summary(m.result), "seconds": time.perf_counter() - tv})
        logging.info("%s: %s", v.name, {k: rows[-1][k] for k in ("evaluations_per_molecule", "validity",
                                                                   "uniqueness", "fcd", "fcd_ci95")})
    n_valid = max((r["fcd_n"] for r in rows), default=0)
    floor = ref.data_floor(n_valid, args.bootstrap, args.seed)
    report = {"model": "bundled qm9", "protocol": "digress (largest-fragment validity), FCD vs QM9 test",
              "num_samples": args.num_samples, "seed": args.seed, "target_evaluations": target,
              "tolerance": 0.05, "calibration_graphs": int(energy.numel()), "bootstrap": args.bootstrap,
              "pooled_calibrations": {str(q): c.to_dict() for q, c in pooled.items()},
              "data_floor": floor, "rows": rows, "seconds": time.perf_counter() - t0, "environment": environment(),
              "command": "python experiments/benchmarks/switch_ablation.py" + (" --quick" if args.quick else "")}
    write_json(out.with_suffix(".json"), report)
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def markdown(r: dict) -> str:
    lines = ["# Energy-switch ablation at equal evaluations per molecule (bundled QM9 model)\n",
             f"`{r['command']}` — {r['num_samples']} samples per variant, seed {r['seed']}; mixing step cap "
             f"searched so that every variant spends {r['target_evaluations']:.1f} ± 5 % evaluations per molecule "
             f"(transport only excepted); thresholds fitted on {r['calibration_graphs']} validation graphs; "
             f"DiGress protocol, FCD vs QM9 test with a normal-approximation bootstrap 95 % interval (FCD ± 1.96 SD of "
             f"{r['bootstrap']} resamples).\n",
             "| variant | evals/mol (vs target) | transport / mixing steps | switch: threshold / arrived / cap | "
             "validity | uniqueness | novelty | FCD [95 % CI] |", "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        dev = f" ({row['deviation']:+.1%})" if row.get("deviation") is not None else ""
        st = row["mean_steps"]
        sw = row["switch_reasons"]
        lines.append(f"| {row['name']} | {row['evaluations_per_molecule']:.1f}{dev} | "
                     f"{st.get('transport', 0):.1f} / {st.get('mixing', 0):.1f} | "
                     f"{sw['threshold']} / {sw['arrived']} / {sw['cap']} | {row['validity']:.3f} | "
                     f"{row['uniqueness']:.3f} | {row['novelty']:.3f} | {fmt_ci(row)} |")
    f = r["data_floor"]
    lines += ["", f"FCD of {f['fcd_n']} random QM9 test molecules against the test split (the floor at this "
              f"sample size): {fmt_ci(f)}.", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
