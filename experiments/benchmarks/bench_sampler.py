"""Sampler presets head to head on one checkpoint: energy evaluations per molecule, molecules/s,
validity and uniqueness.

    python experiments/benchmarks/bench_sampler.py --ckpt runs/.../last.pt --num-samples 256 \
        --presets paper default --out experiments/results/sampler_benchmark
    python experiments/benchmarks/bench_sampler.py --valence-energy qm9 ...   # no checkpoint needed

``--valence-energy DATASET`` replaces the trained model by a hand-written differentiable energy
(squared valence excess, isolated-atom penalty, class log-priors from the training marginals). It
is not a generative model of the dataset; it isolates how well each kernel finds valid low-energy
graphs, independently of training quality.

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


class ValenceEnergy(torch.nn.Module):
    """``Σ_i w·relu(v_i − maxval(x_i))² + w_iso·relu(1 − v_i)² − Σ log p(x_i) − ½Σ_{i≠j} log p(e_ij)
    + w_tree·relu(n − 1 − #bonds)²``, with ``v_i = Σ_j Σ_c order(c)·E_ijc`` (differentiable in the one-hots;
    the last term asks for at least a spanning tree's worth of bonds)."""

    def __init__(self, spec, stats, w_over: float = 4.0, w_iso: float = 2.0, w_tree: float = 2.0) -> None:
        super().__init__()
        self.register_buffer("maxval", torch.tensor(spec.max_valences, dtype=torch.float32))
        self.register_buffer("order", torch.tensor(spec.bond_orders, dtype=torch.float32))
        self.register_buffer("log_px", stats.node_marginals.float().clamp_min(1e-4).log())
        self.register_buffer("log_pe", stats.edge_marginals.float().clamp_min(1e-4).log())
        self.w_over, self.w_iso, self.w_tree = w_over, w_iso, w_tree

    def forward(self, graph) -> torch.Tensor:
        x, e, m = graph.x, graph.e, graph.node_mask.float()
        val = (e * self.order).sum((2, 3))
        cap = (x * self.maxval).sum(-1)
        pen = self.w_over * torch.relu(val - cap) ** 2 + self.w_iso * torch.relu(1 - val) ** 2
        prior = -(x * self.log_px).sum(-1) - 0.5 * (e * self.log_pe).sum((2, 3))
        bonds = 0.5 * e[..., 1:].sum((1, 2, 3))
        tree = self.w_tree * torch.relu(m.sum(1) - 1 - bonds) ** 2
        return ((pen + prior) * m).sum(1) + tree


class Loaded:
    def __init__(self, model, spec, stats, config) -> None:
        self.model, self.spec, self.stats, self.config, self.extras, self.step = model, spec, stats, config, {}, 0


def load(args):
    if args.valence_energy:
        from graph_energy.data import load_dataset

        data = load_dataset(args.valence_energy)
        return Loaded(ValenceEnergy(data.spec, data.stats).eval(), data.spec, data.stats,
                      {"dataset": {"name": args.valence_energy}})
    return load_energy_model(args.ckpt)


def calibration_for(loaded, args) -> Calibration:
    if args.calibration:
        return Calibration.load(args.calibration)
    if loaded.extras.get("calibration"):
        return Calibration.from_dict(loaded.extras["calibration"])
    from graph_energy.calibration import held_out_graphs

    ds = loaded.config.get("dataset")
    graphs = held_out_graphs(ds, loaded.spec, "val", args.num_calibration_graphs)
    return calibrate_thresholds(loaded.model, graphs, args.quantile)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--valence-energy", default=None, metavar="DATASET",
                    help="benchmark on a hand-written valence energy for this dataset instead of a checkpoint")
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

    if not (args.ckpt or args.valence_energy):
        ap.error("pass --ckpt or --valence-energy")
    loaded = load(args)
    t0 = time.perf_counter()
    calibration = calibration_for(loaded, args)
    cal_time = time.perf_counter() - t0
    rows = []
    for name in args.presets:
        cfg = preset(name)
        sampler = build_sampler(cfg, calibration, trusted=True)
        res = generate(loaded.model, loaded.spec, loaded.stats, n=args.num_samples, batch_size=args.batch_size,
                       seed=args.seed, sampler=sampler)
        s = res.summary()
        s["preset"] = name
        s["sampler"] = cfg
        rows.append(s)
        logging.info("%s: %s", name, {k: v for k, v in s.items() if k != "sampler"})
    base = rows[0]["evaluations_per_molecule"]
    report = {
        "ckpt": Path(args.ckpt).name if args.ckpt else f"valence-energy:{args.valence_energy}", "step": loaded.step, "num_samples": args.num_samples, "seed": args.seed,
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
