"""The README's results table, rebuilt from the figures recorded in ``experiments/results/``.

    python experiments/results_table.py            # print the table (markdown) on stdout
    python experiments/results_table.py --write    # replace the table in README.md between the markers
    python experiments/results_table.py --check    # exit 1 if README.md differs from the recorded figures

Every row reads one recorded file (JSON, or a CSV of a training curve) written by the command in
its second column; a row whose file is absent is left out. The README holds the table between
``<!-- results:start -->`` and ``<!-- results:end -->``; edit the rows here (:data:`ROWS`), never
there. A benchmark run only in its ``--quick`` mode is shown with the sample count it had.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
README = ROOT / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f} %"


def num(x: float) -> str:
    return f"{x:,}"


def first_existing(*names: str) -> str | None:
    for n in names:
        if (RESULTS / n).is_file():
            return n
    return None


@dataclass
class Row:
    """One table row: ``what``, the ``command`` that records ``source``, and how to say its figures."""

    what: str
    command: str
    source: str | tuple[str, ...]
    render: Callable[[dict], str]
    recorded_command: bool = False  # show the command the file records (e.g. with --quick) instead

    def file(self) -> str | None:
        names = (self.source,) if isinstance(self.source, str) else self.source
        return first_existing(*names)

    def line(self) -> str | None:
        name = self.file()
        if name is None:
            return None
        data = read(RESULTS / name)
        command = data.get("command", self.command) if self.recorded_command else self.command
        return f"| {self.what} | `{command}` | {self.render(data)} (`{name}`) |"


def read(path: Path) -> dict:
    if path.suffix == ".csv":
        with open(path) as fh:
            return {"rows": list(csv.DictReader(fh))}
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------------ renderers
def data_qm9(d: dict) -> str:
    s = d["second_load"]["summary"]
    sp = s["split_sizes"]
    return (f"{num(d['rows_read'])} read; DiGress split {num(sp['train'])} / {num(sp['val'])} / {num(sp['test'])}; "
            f"round trip {pct(s['round_trip_rate'], 0)}; {d['first_load_uncontended_s']:.0f} s first load, "
            f"{d['second_load_uncontended_s']:.2f} s cached")


def data_moses(d: dict) -> str:
    s = d["second_load"]["summary"]
    sp = s["split_sizes"]
    return (f"{num(sp['train'])} / {num(sp['test'])} / {num(sp['test_scaffolds'])}; round trip "
            f"{pct(s['round_trip_rate'], 0)}; {s['seconds']:.1f} s cached")


def energy_speed(d: dict) -> str:
    by = {r["case"]: r for r in d["rows"]}
    parts = [f"{by[c]['ratio_train_wall']:.2f}× (train) / {by[c]['ratio_sample_wall']:.2f}× (sample) on {c.upper()} size"
             for c in ("qm9", "moses") if c in by]
    return f"{d['rows'][0]['preset']} preset vs the yardstick: " + ", ".join(parts)


def metrics_sanity(d: dict) -> str:
    m = d["metrics"]
    return (f"{num(d['num_samples'])} QM9 test molecules vs train: validity {m['validity']:.1f}, "
            f"FCD {m['fcd/test']:.3f}, NSPDK {m['nspdk/test']:.0e}")


def training(d: dict) -> str:
    rows = [r for r in d["rows"] if r.get("train/loss")]
    resumed = [r for r in d["rows"] if r.get("resumed/train/loss")]
    out = f"loss {float(rows[0]['train/loss']):.3f} → {float(rows[-1]['train/loss']):.3f} over {rows[-1]['step']} steps"
    if resumed and resumed[-1]["resumed/train/loss"] == rows[-1]["train/loss"]:
        out += "; interrupted + resumed run ends on the same loss"
    return out


def sampler_presets(d: dict) -> str:
    by = {r["preset"]: r for r in d["results"]}
    if "default" not in by or "paper" not in by:
        return ", ".join(f"{k}: {v['evaluations_per_molecule']:.1f} evaluations/molecule" for k, v in by.items())
    a, b = by["default"], by["paper"]
    return (f"{d['num_samples']} samples, {d['ckpt']}: `default` {a['evaluations_per_molecule']:.1f} evaluations per "
            f"molecule (validity {pct(a['validity'])}, uniqueness {pct(a['uniqueness'])}), `paper` "
            f"{b['evaluations_per_molecule']:.1f} ({pct(b['validity'])}, {pct(b['uniqueness'])}): "
            f"{a['evaluations_per_molecule'] / b['evaluations_per_molecule']:.2f}× the evaluations")


def phase2(d: dict) -> str:
    by = {m["model"]: m for m in d["models"]}
    return (f"validity {by['phase-1']['validity']:.2f} → {by['finetuned']['validity']:.2f} after "
            f"{d['training']['finetuned']['steps']} contrastive updates of a step-{d['phase1_step']} phase-1 model")


def bundled(d: dict) -> str:
    m = d["metrics"]
    return (f"{num(d['num_samples'])} samples: validity {pct(m['validity'])} (connected "
            f"{pct(m['validity_connected'])}), uniqueness {pct(m['uniqueness'])}, novelty {pct(m['novelty'])}, "
            f"FCD {m['fcd/test']:.3f}, NSPDK {m['nspdk/test']:.4f}")


def main_job(d: dict) -> str:
    m = d["metrics"]
    where = f"{d['workers']} worker processes" if d.get("workers", 1) > 1 else "1 CPU thread"
    return (f"{num(d['num_samples'])} molecules at {d['molecules_per_s']:.1f} mol/s ({where}), "
            f"{d['evaluations_per_molecule']:.1f} evaluations per molecule; validity {pct(m['validity'])}, "
            f"FCD (n={num(d['num_samples'])}) {m['fcd/test']:.2f}")


def first_hour(d: dict) -> str:
    c = {r["command"]: r for r in d["commands"] if r.get("idle") or "calibrate" in r["command"]}
    main = c["gem-sample num_samples=1000 out=samples/"]
    qs = c["gem-train experiment=quickstart"]
    cal = next(r for k, r in c.items() if k.startswith("gem-calibrate"))
    return (f"fresh caches, idle 2-core CPU: main job {main['wall_s']:.0f} s (target 40 s; sampling "
            f"{main['stages_s']['sampling (2 workers, 13.2 mol/s)']:.0f} s), quickstart {qs['wall_s']:.0f} s "
            f"(incl. the QM9 build), gem-calibrate {cal['wall_s']:.0f} s")


def fcd_ci(r: dict) -> str:
    ci = r.get("fcd_ci95")
    return f"{r['fcd']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{r['fcd']:.2f}"


def switch_diagnosis(d: dict) -> str:
    sr, lv = d["switch_reasons_shipped"], d["arrival_data_level"]
    q9 = d["pooled_thresholds"]["0.9"]
    return (f"{d['num_chains']} chains: {sr['threshold']} switch on the threshold ({d['threshold_switch_earlier_than_arrival']} "
            f"of them before arrival), {sr['arrived']} on arrival; transport arrives at a median data level of "
            f"{lv['median']:.2f} after {d['arrival_step']['median']:.0f} steps, so even a 0.9-quantile threshold "
            f"fires before arrival for {pct(q9['fires_before_arrival'], 0)} of chains; "
            f"{pct(d['same_final_smiles_share'], 0)} end in the same molecule with the energy criterion off")


def switch_ablation(d: dict) -> str:
    rows = {r["name"]: r for r in d["rows"]}
    matched = [r for r in d["rows"] if r.get("target") or r["name"].startswith("shipped")]
    mixed = [r for r in matched if r["name"] not in ("mixing only",)]
    lo, hi = min(r["fcd"] for r in mixed), max(r["fcd"] for r in mixed)
    half = sum((r["fcd_ci95"][1] - r["fcd_ci95"][0]) / 2 for r in mixed if r.get("fcd_ci95")) / len(mixed)
    out = (f"n={d['num_samples']}, {d['target_evaluations']:.0f} ± 5 % evaluations/molecule: FCD {lo:.2f}–{hi:.2f} "
           f"across thresholds, margins, energy criterion off and single-edit transport (95 % intervals ± {half:.2f}); "
           f"shipped {fcd_ci(matched[0])}")
    if "mixing only" in rows:
        out += f"; mixing only: validity {pct(rows['mixing only']['validity'])}"
    if "transport only" in rows:
        t = rows["transport only"]
        out += f"; transport only ({t['evaluations_per_molecule']:.0f} evaluations): FCD {t['fcd']:.2f}"
    return out


def sampling_budget(d: dict) -> str:
    pts = ", ".join(f"{r['evaluations_per_molecule']:.0f}: {r['fcd']:.2f}" for r in d["rows"])
    val = ", ".join(f"{100 * r['validity']:.1f}" for r in d["rows"])
    return (f"n={d['num_samples']}; FCD by evaluations/molecule "
            f"{pts} (test-set floor at this n {d['data_floor']['fcd']:.2f}); validity % {val}; DeFoG (n=10,000): "
            f"FCD 0.26 at 50 steps, 0.12 at 500")


def property_targeting(d: dict) -> str:
    return (f"{d['protocol']['targets']} QM9 test targets x {d['protocol']['samples_per_target']}: MAE (oracle) "
            f"μ {d['mae_mu']:.2f} D at validity {pct(d['validity_mu'])} (unguided {d['unguided_mae_mu']:.2f}; oracle "
            f"test MAE {d['oracle_test_mae_mu']:.2f}), HOMO {d['mae_homo']:.3f} eV at validity {pct(d['validity_homo'])} "
            f"(unguided {d['unguided_mae_homo']:.3f}; oracle {d['oracle_test_mae_homo']:.3f}); GFN2-xTB cross-check "
            f"μ {d['xtb_mae_mu']:.2f} (unguided {d['xtb_unguided_mae_mu']:.2f}), HOMO {d['xtb_mae_homo']:.2f} "
            f"(unguided {d['xtb_unguided_mae_homo']:.2f})")


def property_windows(d: dict) -> str:
    parts = [f"{k}: {pct(w['inside_fraction_of_valid'])} inside, valid {pct(w['validity'])}, unique "
             f"{pct(w['uniqueness'])}, rejection needs {w['rejection']['samples_needed_for_same_count']:,.0f}"
             for k, w in d["windows"].items()]
    return f"{d['protocol']['num_samples']} per window; " + "; ".join(parts)


def composition(d: dict) -> str:
    t = d["table"]
    names = [k for k in t if k != "data_test"]
    parts = [f"{k}: both {pct(t[k]['rate_both'])} at validity {pct(t[k]['validity'])}" for k in names]
    return (f"{d['protocol']['num_samples']} per model, experts {next(iter(d['protocol']['experts'].values()))['updates']}"
            f" updates; rate of both attributes among valid samples: data {pct(t['data_test']['rate_both'])}; "
            + "; ".join(parts))


def structure_tasks(d: dict) -> str:
    parts = []
    if "scaffolds" in d:
        s = d["scaffolds"]["summary"]
        parts.append(f"{len(d['scaffolds']['scaffolds'])} scaffolds x {d['config']['per_scaffold']}: contain "
                     f"{pct(s['contains_scaffold'])} of all samples, validity {pct(s['validity'])} (min "
                     f"{pct(s['min_validity'], 0)}), uniqueness {pct(s['uniqueness'])} (min {pct(s['min_uniqueness'], 0)}),"
                     f" novelty {pct(s['novelty'])}, {s['yield_ratio']:.0f}x the yield per evaluation of filtering")
    for key, label in (("equal_size", "equal-size"), ("different_size", "different-size")):
        runs = (d.get("interpolation") or {}).get(key, {}).get("summary", {})
        best = runs.get("minimax_pen1")
        if best:
            parts.append(f"{label} pairs: lower barrier than naive in {pct(best['lower_max_energy_than_naive'], 0)}, "
                         f"{pct(best['valid_intermediates'], 0)} valid intermediates")
    neg = (d.get("scoring") or {}).get("negatives", {})
    if neg:
        parts.append("scoring AUROC " + ", ".join(f"{k} {v['auroc_z']:.3f}" for k, v in neg.items()
                                                   if v["num_scored"]))
    return "; ".join(parts)


def quality_vs_compute(d: dict) -> str:
    by = {}
    for r in d["rows"]:
        by.setdefault(r["model"], []).append(r)
    out = []
    for m, rows in sorted(by.items()):
        best = min(rows, key=lambda r: r["metrics"]["fcd/test"]["value"])
        out.append(f"{m} ({best['compute_s'] / 60:.0f} min): best FCD {best['metrics']['fcd/test']['value']:.2f} at "
                   f"{best['evals_per_molecule']:.0f} evals/mol, validity {pct(best['metrics']['validity']['value'])}")
    return f"n={d['config'].get('num_samples', '?')} per row; " + "; ".join(out)


def gpu_run(d: dict) -> str:
    m = d.get("metrics") or {}
    if not m:
        return "recipe ready, not run yet"
    keys = [("validity", "validity"), ("uniqueness", "uniqueness"), ("novelty", "novelty")]
    parts = [f"{label} {pct(m[k])}" for k, label in keys if k in m]
    parts += [f"{k} {v:.3f}" for k, v in m.items() if k.startswith("fcd/")]
    return f"{d.get('gpu', {}).get('device', 'GPU')}, training {d['training_seconds'] / 60:.1f} min: " + ", ".join(parts)


ROWS = [
    Row("QM9 data", "gem-data dataset=qm9", "data_qm9.json", data_qm9),
    Row("MOSES data", "gem-data dataset=moses", "data_moses.json", data_moses),
    Row("energy speed vs yardstick", "python experiments/benchmarks/bench_energy.py --presets paper",
        "bench_energy_cpu.json", energy_speed),
    Row("metrics sanity", "python experiments/benchmarks/eval_reference_sets.py qm9", "eval_qm9_digress.json",
        metrics_sanity),
    Row("training", "gem-train experiment=quickstart", "train_quickstart.csv", training),
    Row("sampler presets", "python experiments/benchmarks/bench_sampler.py --ckpt graph_energy/assets/qm9.pt "
        "--presets default paper --out experiments/results/sampler_benchmark_bundled",
        "sampler_benchmark_bundled.json", sampler_presets),
    Row("phase 2", "python experiments/benchmarks/bench_finetune.py --ckpt CKPT", "finetune_qm9_step300.json", phase2),
    Row("bundled QM9 model", "bash experiments/qm9_model_continue.sh sample", "qm9_model_sample10000.json", bundled),
    Row("main job", "gem-sample num_samples=1000 out=samples/", "qm9_model_sample1000.json", main_job),
    Row("first hour", "gem-sample num_samples=1000 out=samples/; gem-train experiment=quickstart; gem-calibrate ckpt=graph_energy/assets/qm9.pt out=calib/",
        "first_hour.json", first_hour),
    Row("why the switch is inert", "python experiments/benchmarks/switch_diagnosis.py", "switch_diagnosis.json",
        switch_diagnosis, recorded_command=True),
    Row("switch ablation", "python experiments/benchmarks/switch_ablation.py",
        ("switch_ablation.json", "switch_ablation_quick.json"), switch_ablation, recorded_command=True),
    Row("sampling budget", "python experiments/benchmarks/sampling_budget.py",
        ("sampling_budget.json", "sampling_budget_quick.json"), sampling_budget, recorded_command=True),
    Row("property targeting", "python experiments/benchmarks/property_targeting.py --train",
        "property_targeting.json", property_targeting),
    Row("property targeting, no valid term", "python experiments/benchmarks/property_targeting.py --train "
        "--valid-weight 0", "property_targeting_valid0.json", property_targeting),
    Row("exact windows", "python experiments/benchmarks/property_windows.py", "property_windows.json",
        property_windows),
    Row("composition", "python experiments/benchmarks/composition.py --n 500", "composition.json", composition),
    Row("structure tasks", "python experiments/benchmarks/structure_tasks.py", "structure_tasks.json", structure_tasks),
    Row("GEM vs DFM, equal compute", "python experiments/benchmarks/quality_vs_compute.py --budgets-min 10 20 "
        "--evals 25 50 100 --num-samples 1000 --phase2-steps 100 --n-boot 100", "quality_vs_compute.json", quality_vs_compute),
    Row("QM9 on one GPU", "python experiments/gpu/train_qm9_base.py", "qm9_base_gpu.json", gpu_run),
    Row("MOSES on one GPU", "python experiments/gpu/train_moses.py", "moses_gpu.json", gpu_run),
]


def build_table(rows: list[Row] = ROWS) -> str:
    lines = ["| what | command | result |", "|---|---|---|"]
    lines += [line for r in rows if (line := r.line()) is not None]
    return "\n".join(lines) + "\n"


def with_table(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise ValueError(f"README.md needs exactly one {START} ... {END} pair around the results table")
    head, rest = readme.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update README.md between the markers")
    mode.add_argument("--check", action="store_true", help="exit 1 if README.md is not up to date")
    ap.add_argument("--readme", type=Path, default=README)
    args = ap.parse_args(argv)
    table = build_table()
    if not (args.write or args.check):
        sys.stdout.write(table)
        return 0
    text = args.readme.read_text()
    new = with_table(text, table)
    if args.check:
        if new != text:
            print(f"{args.readme.name}: the results table differs from experiments/results/; run "
                  "python experiments/results_table.py --write", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
