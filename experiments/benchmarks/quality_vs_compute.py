"""Quality against compute: GEM and the same-backbone discrete flow-matching (DFM) baseline on QM9.

    python experiments/benchmarks/quality_vs_compute.py --budgets-min 10 30 90 --num-samples 1000
    python experiments/benchmarks/quality_vs_compute.py --quick          # tiny budgets, ~2-3 minutes
    python experiments/benchmarks/quality_vs_compute.py ... --phase2-steps 100   # also GEM + a short phase 2

1. Yardstick: ``anchor_bench.py`` (copied beside this script) measures this machine's throughput for an
   idealised GEM-style network in the same run; every training budget is also reported as a ratio to it
   (``yardstick_graphs``: graphs the yardstick's training step processes in that time).
2. Trains GEM (phase 1, ``experiment=qm9``, transport objective) and the baseline (``experiment=qm9_dfm``)
   with the same backbone preset (``model=small``), data, seed, batch, optimizer (AdamW, lr 5e-4, 50
   warm-up updates, then constant: the budgets are nested, so no schedule knows its end) and EMA, for the
   same *training time* (seconds inside optimisation steps, no validation); a snapshot is taken at every
   budget. ``--phase2-steps N`` adds GEM snapshots fine-tuned for ``N`` contrastive updates
   (``experiment=qm9_finetune``); their compute is phase 1 + phase 2 time.
3. Samples ``--num-samples`` molecules from every snapshot at every sampling budget of ``--evals``
   network evaluations per molecule: GEM with the library's default sampler (energy switch calibrated
   on ``--calibration-graphs`` validation graphs, transport cap ``min(100, E/2)``, mixing for the rest,
   ``β_mh`` annealed over the first half of it; evaluations are counted, so a chain uses at most ``E``,
   fewer when transport arrives or MH proposes no-ops), the baseline with the CTMC sampler (``E`` Euler
   steps, ``polydec`` time grid). Same node counts (the training size histogram) and seed for both.
4. Evaluates validity, uniqueness, novelty, VUN, FCD and NSPDK (DiGress-family protocol, against the
   test split) with bootstrap intervals (``graph_energy.metrics.bootstrap``: percentile intervals, and for
   FCD and NSPDK, which resampling with replacement biases upward, the percentile interval shifted by that
   bias).

Writes ``<out>.json`` (every record), ``<out>.md`` (table beside DeFoG's published rows, and the
head-to-head at equal compute), ``<out>_training.png`` (FCD and validity against training compute) and
``<out>_sampling.png`` (against evaluations per molecule). Resumable: checkpoints, samples and metrics
live in ``--work-dir``; a killed run continues where it stopped (training from its last checkpoint).
FCD and NSPDK depend on the sample count: compare rows only at equal ``--num-samples`` (DeFoG: 10,000).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import platform
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
log = logging.getLogger("quality_vs_compute")

#: DeFoG (Qin et al., 2025), QM9 without H, DiGress-family protocol, 10k samples: its step-count table.
DEFOG_ROWS = [{"model": "DeFoG (published)", "evals": 50, "validity": 0.989, "uniqueness": 0.962, "fcd": 0.26},
              {"model": "DeFoG (published)", "evals": 500, "validity": 0.993, "uniqueness": 0.963, "fcd": 0.12}]
LABELS = {"gem": "GEM (phase 1)", "gem_p2": "GEM (phase 1 + 2)", "dfm": "DFM baseline (CTMC)"}
COLORS = {"gem": "tab:blue", "gem_p2": "tab:green", "dfm": "tab:orange"}
#: Defaults of the settings ``--quick`` shrinks (explicit options win over both).
FULL = {"budgets_min": [10, 30, 90], "num_samples": 1000, "evals": [25, 50, 100, 200, 500], "n_boot": 200,
        "calibration_graphs": 1000, "sample_batch_size": 256, "yardstick_iters": 10}
QUICK = {"budgets_min": [0.2, 0.4], "num_samples": 64, "evals": [25, 50], "n_boot": 20, "calibration_graphs": 128,
         "sample_batch_size": 64, "yardstick_iters": 2}


# ---------------------------------------------------------------------------------------------- state
class State:
    """The run's records in one JSON file, written atomically after every stage (what makes it resumable)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = json.loads(path.read_text()) if path.is_file() else {}
        for key in ("yardstick", "snapshots", "samples", "metrics"):
            self.data.setdefault(key, [] if key == "yardstick" else {})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(_finite(self.data), indent=1) + "\n")
        os.replace(tmp, self.path)


def _finite(obj):
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _num(v) -> float:
    return float("nan") if v is None else float(v)


# ---------------------------------------------------------------------------------------------- yardstick
def yardstick(device: str, iters: int) -> dict:
    """``anchor_bench.bench`` for the ``qm9_small`` case on this device (the yardstick of this run)."""
    sys.path.insert(0, str(HERE))
    import anchor_bench

    dev = torch.device(device)
    b, n, layers, dx, de = (64, 9, 6, 128, 32) if dev.type == "cpu" else (512, 9, 6, 128, 32)
    out = anchor_bench.bench(dev, b, n, layers, dx, de, iters, torch.float32)
    return {"case": "qm9_small", "batch": b, "device": str(dev), "threads": torch.get_num_threads(),
            "time": time.strftime("%Y-%m-%d %H:%M:%S"), **out}


# ---------------------------------------------------------------------------------------------- training
def train_overrides(kind: str, run_dir: Path, args) -> list[str]:
    exp = {"gem": "qm9", "dfm": "qm9_dfm"}[kind]
    return [f"experiment={exp}", "model=small", "optim=adamw", "optim.optimizer.lr=5e-4",
            "optim.schedule.warmup_steps=50", "optim.schedule.kind=constant", "tracker=none", f"seed={args.seed}",
            f"train.run_dir={run_dir}", "train.max_steps=1000000000", f"train.batch_size={args.batch_size}",
            "train.ema_decay=0.995", "train.val_every=0", "train.ckpt_every=0", "train.log_every=1000000",
            "train.keep_checkpoints=1", f"train.device={args.device}", *args.override]


def make_trainer(cfg: dict, data):
    """A :class:`~graph_energy.training.Trainer` for a composed ``gem-train`` config (what ``train(cfg)`` builds)."""
    from graph_energy.cli.train import build_parts, train_settings
    from graph_energy.training import Trainer
    from graph_energy.training.distributed import DistInfo

    settings = train_settings(cfg)
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed % 2**32)
    random.seed(settings.seed)
    parts = build_parts(cfg, data)
    run_dir = Path(cfg["train"]["run_dir"])
    return Trainer(parts.model, parts.objective, parts.optimizer_factory, parts.schedule, data.train, data.val,
                   data.spec.num_atom_types, data.spec.num_bond_types, settings, run_dir,
                   dist=DistInfo(device=torch.device(cfg["train"]["device"] if cfg["train"]["device"] != "auto"
                                                     else "cpu")),
                   checkpoint_meta={"config": cfg, "spec": data.spec.to_dict(), "stats": data.stats.to_dict(),
                                    "extras": {}})


def train_kind(kind: str, budgets_s: list[float], args, state: State, data, work: Path) -> None:
    """Train one model kind up to every budget (training seconds), snapshotting at each; resumes."""
    from graph_energy.cli._config import compose_config
    from graph_energy.training import load_checkpoint

    todo = [b for b in budgets_s if _snap_key(kind, b) not in state.data["snapshots"]]
    if not todo:
        return
    run_dir = work / kind / "run"
    cfg = compose_config("train", train_overrides(kind, run_dir, args))
    trainer = make_trainer(cfg, data)
    last = run_dir / "checkpoints" / "last.pt"
    spent, graphs = 0.0, 0
    if last.is_file():
        trainer.resume(last)
        extras = load_checkpoint(last).extras
        spent, graphs = float(extras.get("bench_train_time_s", 0.0)), int(extras.get("bench_graphs", 0))
        log.info("%s: resumed at step %d after %.1f s of training", kind, trainer.step, spent)

    def save() -> Path:
        trainer.meta["extras"] = {"bench_train_time_s": spent, "bench_graphs": graphs}
        trainer.save()
        return last

    last_save = time.perf_counter()
    for budget in todo:
        while spent < budget:
            t0 = time.perf_counter()
            trainer.train_step()
            spent += time.perf_counter() - t0
            trainer.step += 1
            graphs += trainer.batches.global_batch
            if args.save_every_s and time.perf_counter() - last_save > args.save_every_s:
                save()
                last_save = time.perf_counter()
        snap = work / kind / "snapshots" / f"{_budget_name(budget)}.pt"
        snap.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(save(), snap)
        last_save = time.perf_counter()
        state.data["snapshots"][_snap_key(kind, budget)] = {
            "model": kind, "budget_s": budget, "checkpoint": str(snap.relative_to(work)), "step": trainer.step,
            "train_time_s": spent, "graphs": graphs, "graphs_per_s": graphs / max(spent, 1e-9),
            "compute_s": spent}
        state.save()
        log.info("%s: budget %.0f s reached at step %d (%.1f graphs/s)", kind, budget, trainer.step,
                 graphs / max(spent, 1e-9))


def finetune(budget: float, args, state: State, work: Path) -> None:
    """GEM + ``--phase2-steps`` contrastive updates from the phase-1 snapshot of ``budget``."""
    from graph_energy.cli._config import compose_config
    from graph_energy.cli.train import train

    key = _snap_key("gem_p2", budget)
    if key in state.data["snapshots"]:
        return
    base = state.data["snapshots"][_snap_key("gem", budget)]
    run_dir = work / "gem_p2" / _budget_name(budget)
    over = ["experiment=qm9_finetune", f"train.init_from={work / base['checkpoint']}", f"train.run_dir={run_dir}",
            f"train.max_steps={args.phase2_steps}", "train.val_every=0", f"train.ckpt_every={args.phase2_steps}",
            "tracker=none", f"train.device={args.device}", f"seed={args.seed}"]
    result = train(compose_config("train", over))
    snap = work / "gem_p2" / "snapshots" / f"{_budget_name(budget)}.pt"
    snap.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.last_checkpoint, snap)
    state.data["snapshots"][key] = {**base, "model": "gem_p2", "checkpoint": str(snap.relative_to(work)),
                                    "phase2_steps": args.phase2_steps, "phase2_time_s": result.train_time_s,
                                    "compute_s": base["train_time_s"] + result.train_time_s}
    state.save()


def _budget_name(budget_s: float) -> str:
    return f"b{budget_s:g}s"


def _snap_key(kind: str, budget_s: float) -> str:
    return f"{kind}/{_budget_name(budget_s)}"


# ---------------------------------------------------------------------------------------------- sampling
def sampler_for(kind: str, evals: int) -> dict:
    """The sampler config of a model kind at a budget of ``evals`` network evaluations per molecule."""
    from graph_energy.config import set_path
    from graph_energy.samplers.kinds import default_sampler_config

    if kind == "dfm":
        cfg = default_sampler_config("dfm")
        set_path(cfg, "phases.ctmc.num_steps", int(evals))
        return cfg
    cfg = default_sampler_config("energy")
    transport = max(1, min(100, evals // 2))
    mixing = max(1, evals - transport - 1)  # the initial evaluation counts too
    set_path(cfg, "phases.transport.max_steps", transport)
    set_path(cfg, "phases.mixing.max_steps", mixing)
    set_path(cfg, "phases.mixing.kernel.beta_mh.num_steps", max(1, mixing // 2))
    return cfg


def sample_all(args, state: State, work: Path) -> None:
    import graph_energy as ge

    for skey, snap in sorted(state.data["snapshots"].items()):
        pending = [e for e in args.evals if f"{skey}/e{e}" not in state.data["samples"]]
        if not pending:
            continue
        model = ge.load(work / snap["checkpoint"], device=args.device)
        cal_s = 0.0
        if model.kind == "energy":
            t0 = time.perf_counter()
            model.calibrate(num_graphs=args.calibration_graphs)
            cal_s = time.perf_counter() - t0
        for evals in pending:
            kind = "dfm" if model.kind == "dfm" else "gem"
            t0 = time.perf_counter()
            s = model.sample(args.num_samples, seed=args.seed, sampler=sampler_for(kind, evals),
                             batch_size=args.batch_size, num_threads=None)
            wall = time.perf_counter() - t0
            path = work / "samples" / f"{skey.replace('/', '_')}_e{evals}.smi"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{x or ''}\n" for x in s.smiles))
            state.data["samples"][f"{skey}/e{evals}"] = {
                "snapshot": skey, "model": snap["model"], "evals_budget": evals, "smiles": str(path.relative_to(work)),
                "evals_per_molecule": s.summary["evaluations_per_molecule"], "sample_s_per_molecule": wall / len(s),
                "connected_validity": s.summary["connected_validity"], "calibration_s": cal_s,
                "calibration_graphs": args.calibration_graphs if model.kind == "energy" else 0}
            state.save()
            log.info("%s at %d evals: %.1f evals/mol, validity %.3f, %.3f s/mol", skey, evals,
                     s.summary["evaluations_per_molecule"], s.summary["validity"], wall / len(s))


# ---------------------------------------------------------------------------------------------- evaluation
def evaluate_all(args, state: State, work: Path, dataset_cfg: dict) -> None:
    from graph_energy.metrics import Evaluator
    from graph_energy.metrics.bootstrap import evaluator_intervals

    todo = [k for k in sorted(state.data["samples"]) if k not in state.data["metrics"]]
    if not todo:
        return
    evaluator = Evaluator.from_dataset("digress", dataset_cfg, n_jobs=args.jobs)
    for key in todo:
        smiles = [s.strip() or None for s in (work / state.data["samples"][key]["smiles"]).read_text().splitlines()]
        t0 = time.perf_counter()
        iv = evaluator_intervals(evaluator, smiles, n_boot=args.n_boot, seed=args.seed,
                                 fcd=not args.no_fcd, nspdk=not args.no_nspdk)
        state.data["metrics"][key] = {"metrics": {k: v.to_dict() for k, v in iv.items()},
                                      "eval_s": time.perf_counter() - t0}
        state.save()
        log.info("%s: %s", key, {k: round(v.value, 4) for k, v in iv.items()})


# ---------------------------------------------------------------------------------------------- report
def rows(state: State) -> list[dict]:
    """One flat record per (model, training budget, sampling budget) with its metric intervals."""
    ys = state.data["yardstick"]
    ref = float(np.median([y["train_graphs_per_s"] for y in ys])) if ys else float("nan")
    out = []
    for key, samp in sorted(state.data["samples"].items()):
        snap = state.data["snapshots"][samp["snapshot"]]
        met = state.data["metrics"].get(key, {}).get("metrics", {})
        out.append({"key": key, "model": snap["model"], "budget_s": snap["budget_s"], "compute_s": snap["compute_s"],
                    "yardstick_graphs": snap["compute_s"] * ref, "train_graphs": snap["graphs"],
                    "graphs_per_s": snap["graphs_per_s"], "throughput_vs_yardstick": snap["graphs_per_s"] / ref,
                    "step": snap["step"], **{k: samp[k] for k in ("evals_budget", "evals_per_molecule",
                                                                  "sample_s_per_molecule", "connected_validity")},
                    "metrics": met})
    return out


def _fmt(m: dict | None, pct: bool, digits: int = 3) -> str:
    if not m or not math.isfinite(_num(m.get("value"))):
        return "–"
    v, lo, hi = _num(m["value"]), _num(m.get("low")), _num(m.get("high"))
    if pct:
        return f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
    return f"{v:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def markdown(state: State, args) -> str:
    ys = state.data["yardstick"]
    rs = rows(state)
    lines = ["# Quality against compute: GEM vs the same-backbone DFM baseline (QM9)", "",
             f"QM9 without H, DiGress-family protocol (largest-fragment validity; FCD/NSPDK against the test split); "
             f"{args.num_samples} samples per row, bootstrap 95 % intervals ({args.n_boot} resamples; "
             "percentile intervals, for FCD and NSPDK shifted by the resampling bias, which duplicates raise). "
             "Both models: `model=small` backbone, same data, seed, batch, optimizer and EMA; budgets are training "
             "seconds on this machine (*yardstick graphs* = training seconds × the yardstick's training throughput, "
             "the machine-independent measure). An evaluation is a forward + backward pass (energy and gradient) for "
             "GEM and a forward pass for the baseline; *s/mol* is the wall-clock sampling cost. FCD and NSPDK depend "
             "on the sample count: published rows use 10,000.", ""]
    if ys:
        y = ys[-1]
        lines += [f"Yardstick (`anchor_bench.py`, case {y['case']}, {y['device']}, {y['threads']} thread(s)): "
                  f"{y['train_graphs_per_s']} train graphs/s, {y['sample_graphs_per_s']} sample graphs/s "
                  f"(median of {len(ys)} run(s) used for the ratios).", ""]
    lines += ["| model | train time (s) | yardstick graphs | steps | evals/mol (budget) | s/mol | valid % | unique % | "
              "novel % | VUN % | FCD | NSPDK |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rs:
        m = r["metrics"]
        fcd = next((v for k, v in m.items() if k.startswith("fcd/")), None)
        nsp = next((v for k, v in m.items() if k.startswith("nspdk/")), None)
        lines.append(f"| {LABELS.get(r['model'], r['model'])} | {r['compute_s']:.0f} | {r['yardstick_graphs']:.3g} | "
                     f"{r['step']} | {r['evals_per_molecule']:.1f} ({r['evals_budget']}) | "
                     f"{r['sample_s_per_molecule']:.3g} | {_fmt(m.get('validity'), True)} | "
                     f"{_fmt(m.get('uniqueness'), True)} | {_fmt(m.get('novelty'), True)} | {_fmt(m.get('vun'), True)} | "
                     f"{_fmt(fcd, False)} | {_fmt(nsp, False, 2)} |")
    for d in DEFOG_ROWS:
        lines.append(f"| {d['model']}, {d['evals']} steps | 6.5 h A100 | – | – | {d['evals']} | – | "
                     f"{100 * d['validity']:.1f} | {100 * d['uniqueness']:.1f} | – | – | {d['fcd']:.2f} | – |")
    lines += ["", "DeFoG's rows are from its paper's step-count table (its own, larger network; 10,000 samples; the "
              "training time is its compute table's).", "", "## Head to head at equal compute", ""]
    lines += head_to_head(rs)
    return "\n".join(lines) + "\n"


def head_to_head(rs: list[dict]) -> list[str]:
    """GEM (phase 1) against the baseline at every (training budget, sampling budget) both have."""
    by = {(r["model"], r["budget_s"], r["evals_budget"]): r for r in rs}
    out, tally = [], {"validity": [0, 0, 0], "fcd": [0, 0, 0]}  # GEM ahead, behind, tied
    for (model, b, e), g in sorted(by.items()):
        d = by.get(("dfm", b, e))
        if model != "gem" or d is None:
            continue
        gv, dv = _val(g, "validity"), _val(d, "validity")
        gf, df = _val(g, "fcd/"), _val(d, "fcd/")
        parts = [f"- {b:g} s training, {e} evals/mol: validity GEM {100 * gv:.1f} % vs DFM {100 * dv:.1f} % "
                 f"({100 * (gv - dv):+.1f} points)"]
        if math.isfinite(gf) and math.isfinite(df):
            parts.append(f"FCD GEM {gf:.2f} vs DFM {df:.2f} ({gf - df:+.2f})")
            tally["fcd"][0 if gf < df else 1 if gf > df else 2] += 1
        if math.isfinite(gv) and math.isfinite(dv):
            tally["validity"][0 if gv > dv else 1 if gv < dv else 2] += 1
        out.append("; ".join(parts))
    if not out:
        return ["(no budget with both models yet)"]
    summary = [f"{name}: GEM ahead at {a}, behind at {b}, tied at {c} of {a + b + c} settings"
               for name, (a, b, c) in tally.items() if a + b + c]
    return out + ["", "; ".join(summary) + " (point estimates; see the intervals in the table)."]


def _val(r: dict, name: str) -> float:
    m = r["metrics"]
    item = m.get(name) if not name.endswith("/") else next((v for k, v in m.items() if k.startswith(name)), None)
    return _num(item["value"]) if item else float("nan")


def _err(r: dict, name: str) -> tuple[float, float, float]:
    m = r["metrics"]
    item = m.get(name) if not name.endswith("/") else next((v for k, v in m.items() if k.startswith(name)), None)
    if not item:
        return float("nan"), 0.0, 0.0
    v, lo, hi = _num(item["value"]), _num(item.get("low")), _num(item.get("high"))
    return v, max(v - lo, 0.0) if math.isfinite(lo) else 0.0, max(hi - v, 0.0) if math.isfinite(hi) else 0.0


def plots(state: State, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    rs = rows(state)
    if not rs:
        return []
    ys = state.data["yardstick"]
    ref = float(np.median([y["train_graphs_per_s"] for y in ys])) if ys else float("nan")
    written = []
    models = sorted({r["model"] for r in rs})
    evals = sorted({r["evals_budget"] for r in rs})
    budgets = sorted({r["budget_s"] for r in rs})
    for name, xkey, groups, series in (("training", "compute_s", evals, "evals_budget"),
                                       ("sampling", "evals_per_molecule", budgets, "budget_s")):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, metric, ylabel in ((axes[0], "fcd/", "FCD (test) ↓"), (axes[1], "validity", "validity ↑")):
            for model in models:
                for gi, g in enumerate(groups):
                    pts = sorted((r for r in rs if r["model"] == model and r[series] == g), key=lambda r: r[xkey])
                    if not pts:
                        continue
                    vals = [_err(r, metric) for r in pts]
                    alpha = 0.35 + 0.65 * (gi + 1) / len(groups)
                    tag = f"{g} evals/mol" if series == "evals_budget" else f"{g:g} s training"
                    ax.errorbar([r[xkey] for r in pts], [v[0] for v in vals], yerr=[[v[1] for v in vals],
                                [v[2] for v in vals]], marker="o", capsize=3, color=COLORS.get(model), alpha=alpha,
                                label=f"{LABELS.get(model, model)}, {tag}")
            if name == "sampling":
                for d in DEFOG_ROWS:
                    y = d["fcd"] if metric == "fcd/" else d["validity"]
                    ax.scatter([d["evals"]], [y], marker="*", s=120, color="k",
                               label="DeFoG published (10k samples)" if d is DEFOG_ROWS[0] else None)
            ax.set_xscale("log")
            ticks = sorted({r["budget_s"] if name == "training" else r["evals_budget"] for r in rs}
                           | ({d["evals"] for d in DEFOG_ROWS} if name == "sampling" else set()))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks(ticks, [f"{t:.0f}" for t in ticks], fontsize=7)
            ax.set_xlabel(f"training time (s; yardstick here: {ref:.0f} train graphs/s)" if name == "training"
                          else "network evaluations per molecule")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[1].legend(fontsize=7, loc="best")
        fig.suptitle(f"QM9: quality against {'training' if name == 'training' else 'sampling'} compute")
        fig.tight_layout()
        path = out.with_name(f"{out.name}_{name}.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets-min", type=float, nargs="+",
                    help="training budgets in minutes of training time per model (default 10 30 90)")
    ap.add_argument("--evals", type=int, nargs="+",
                    help="sampling budgets in network evaluations per molecule (default 25 50 100 200 500)")
    ap.add_argument("--num-samples", type=int, help="molecules per model and budget (default 1000)")
    ap.add_argument("--models", nargs="+", default=["gem", "dfm"], choices=["gem", "dfm"])
    ap.add_argument("--phase2-steps", type=int, default=0, help="also GEM + this many contrastive updates (0: off)")
    ap.add_argument("--n-boot", type=int, help="bootstrap resamples (default 200)")
    ap.add_argument("--calibration-graphs", type=int, help="validation graphs for GEM's energy switch (default 1000)")
    ap.add_argument("--batch-size", type=int, default=64, help="training micro-batch (both models)")
    ap.add_argument("--sample-batch-size", type=int, help="chains sampled together (default 256)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for everything")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for the evaluation")
    ap.add_argument("--save-every-s", type=float, default=300.0, help="checkpoint interval while training")
    ap.add_argument("--no-fcd", action="store_true")
    ap.add_argument("--no-nspdk", action="store_true")
    ap.add_argument("--override", nargs="*", default=[], help="extra gem-train overrides for both models")
    ap.add_argument("--work-dir", type=Path, default=Path("runs/quality_vs_compute"))
    ap.add_argument("--out", type=Path, default=REPO / "experiments" / "results" / "quality_vs_compute")
    ap.add_argument("--quick", action="store_true", help="tiny budgets and sample counts (a 2-3 minute smoke run)")
    args = ap.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key, value in preset.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.quick:
        if args.work_dir == Path("runs/quality_vs_compute"):
            args.work_dir = Path("runs/quality_vs_compute_quick")
        if args.out == REPO / "experiments" / "results" / "quality_vs_compute":
            args.out = REPO / "experiments" / "results" / "quality_vs_compute_quick"
    args.work_dir = args.work_dir.expanduser().absolute()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("graph_energy").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    work = args.work_dir
    state = State(work / "state.json")
    state.data["config"] = {"budgets_min": args.budgets_min, "evals": args.evals, "num_samples": args.num_samples,
                            "seed": args.seed, "batch_size": args.batch_size, "device": args.device,
                            "threads": args.threads, "phase2_steps": args.phase2_steps, "quick": args.quick,
                            "n_boot": args.n_boot, "platform": platform.platform(), "torch": torch.__version__}
    t_start = time.perf_counter()
    state.data["yardstick"].append(yardstick(args.device, args.yardstick_iters))
    state.save()
    log.info("yardstick: %s", state.data["yardstick"][-1])

    from graph_energy.cli._config import compose_config
    from graph_energy.config import instantiate

    dataset_cfg = compose_config("train", train_overrides("gem", work / "gem" / "run", args))["dataset"]
    budgets_s = sorted(60.0 * b for b in args.budgets_min)
    need_training = any(_snap_key(k, b) not in state.data["snapshots"] for k in args.models for b in budgets_s)
    if need_training:
        data = instantiate(dataset_cfg, trusted=True)
        for kind in args.models:
            train_kind(kind, budgets_s, args, state, data, work)
    if args.phase2_steps and "gem" in args.models:
        for b in budgets_s:
            finetune(b, args, state, work)
    batch = args.batch_size
    args.batch_size = args.sample_batch_size
    sample_all(args, state, work)
    args.batch_size = batch
    evaluate_all(args, state, work, dataset_cfg)
    state.data["wall_s_last_run"] = time.perf_counter() - t_start
    out = args.out.expanduser().absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    report = copy.deepcopy(state.data)
    report["rows"] = rows(state)
    report["defog_published"] = DEFOG_ROWS
    out.with_suffix(".json").write_text(json.dumps(_finite(report), indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(state, args))
    for p in plots(state, out):
        log.info("wrote %s", p)
    log.info("wrote %s and %s (%.0f s)", out.with_suffix(".json"), out.with_suffix(".md"),
             time.perf_counter() - t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
