"""Exact property windows on the bundled QM9 model, against rejection sampling from the unconstrained model.

Four windows, each one exact (RDKit) term added to the target ``E_θ + w·P`` (METHOD.md §4):
logP ∈ [2, 3] (flat-bottom window with a step at its edges), QED ≥ 0.55 (bound, likewise), ring count = 2 (window [2, 2]) and no N–N
bond (hard constraint, ``+inf`` energy when ``[#7]~[#7]`` matches). For each window: validity,
the fraction of valid samples inside the window, uniqueness, and FCD against the QM9 test molecules
inside the same window; beside it, rejection sampling from the unconstrained model (its in-window
rate, and how many unconstrained samples the same number of valid in-window molecules needs).
The constrained runs use ``sampler=constrained`` (``--constrained-sampler``): the default transport,
200 MH steps annealed to ``β_mh = 2``, then MH steps at ``β_mh = 2`` only for the chains still outside
their window (a :class:`~graph_energy.samplers.TermSwitch` ends the phase per chain, cap 800), then 25
steps for every chain (the exact terms act through the MH acceptance only, so the chains need MH
steps to reach a window); steep penalties and ``invalid_penalty: inf`` keep the target's mass
outside the window and on invalid graphs negligible at that temperature. Also the cost of the terms: time of one target evaluation (energy + gradient of a 256-graph batch)
with and without the four terms, cold and warm molecule cache.

    python experiments/benchmarks/property_windows.py            # full protocol (1,000 per window)
    python experiments/benchmarks/property_windows.py --quick    # smoke test (a few minutes on a CPU)

Writes ``experiments/results/property_windows.json`` (``--quick``: ``property_windows_quick.json``).
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch
from property_common import RESULTS, canonical, environment, fcd_or_none, qm9_splits, write_json

import graph_energy as ge
from graph_energy.samplers import TargetEnergy
from graph_energy.terms import build_terms

#: The four windows (term configs in the short form of graph_energy.terms.build_terms). Steep penalties keep
#: the stationary mass outside the window negligible at the final beta_mh; invalid graphs are excluded
#: (invalid_penalty inf), so a valid chain stays valid.
INF = float("inf")
WINDOWS = {
    "logp_2_3": {"property": "logp", "lo": 2.0, "hi": 3.0, "scale": 0.1, "weight": 20.0, "step": 1.0,
                 "invalid_penalty": INF},
    "qed_ge_0.55": {"property": "qed", "lo": 0.55, "scale": 0.02, "weight": 20.0, "step": 1.0,
                    "invalid_penalty": INF},
    "rings_eq_2": {"property": "rings", "lo": 2, "hi": 2, "scale": 0.5, "weight": 20.0, "invalid_penalty": INF},
    "no_nn_bond": {"property": "smarts:[#7]~[#7]", "hi": 0, "hard": True, "invalid_penalty": INF},
}


def window_terms(model, names=None):
    cfg = {k: v for k, v in WINDOWS.items() if names is None or k in names}
    return build_terms(cfg, model.spec)


def inside(term, smiles: list[str]) -> np.ndarray:
    """Whether each (valid) SMILES lies inside the term's window."""
    if not smiles:
        return np.zeros(0, dtype=bool)
    from graph_energy.chem.convert import graphs_to_labels, smiles_to_graph
    from graph_energy.data.dense import DenseGraph

    spec = term.spec
    ok = np.zeros(len(smiles), dtype=bool)
    for start in range(0, len(smiles), 512):
        chunk, keep = [], []
        for i, s in enumerate(smiles[start:start + 512]):
            try:
                chunk.append(smiles_to_graph(s, spec))
                keep.append(start + i)
            except ValueError:
                pass
        if not chunk:
            continue
        lab = graphs_to_labels(chunk)
        g = DenseGraph.from_labels(lab.x, lab.e, lab.node_mask, spec.num_atom_types, spec.num_bond_types)
        ok[keep] = term.satisfied(g).numpy()
    return ok


def constrained_sampler(name: str, mixing_steps: int, beta_end: float | None) -> dict:
    """The ``name`` preset, optionally with another mixing step cap and final ``beta_mh`` of its
    ``mixing`` phase."""
    import yaml

    from graph_energy.config import get_path, set_path

    cfg = yaml.safe_load((ge.api._SAMPLER_CONFS / f"{name}.yaml").read_text())
    if mixing_steps:
        set_path(cfg, "phases.mixing.max_steps", int(mixing_steps))
    if beta_end is not None:
        beta = get_path(cfg, "phases.mixing.kernel.beta_mh")
        if isinstance(beta, dict) and "end" in beta:
            set_path(cfg, "phases.mixing.kernel.beta_mh.end", float(beta_end))
        else:
            set_path(cfg, "phases.mixing.kernel.beta_mh", float(beta_end))
    return cfg


def overhead(model, graphs, repeats: int) -> dict:
    """Milliseconds per target evaluation of ``graphs`` without terms, with the four terms (cold / warm cache)."""
    def timed(target, reset=None) -> float:
        best = []
        for _ in range(repeats):
            if reset is not None:
                reset()
            t0 = time.perf_counter()
            target.evaluate(graphs)
            best.append(time.perf_counter() - t0)
        return 1000 * float(np.median(best))

    plain = TargetEnergy(model.model)
    terms = window_terms(model)
    full = TargetEnergy(model.model, terms)
    cache = terms[0].cache
    cold = timed(full, reset=cache.clear)
    warm = timed(full)
    base = timed(plain)
    return {"batch": graphs.batch_size, "ms_model_only": base, "ms_terms_cold_cache": cold, "ms_terms_warm_cache": warm,
            "overhead_cold": cold / base - 1.0, "overhead_warm": warm / base - 1.0}


def run(args) -> dict:
    torch.set_num_threads(1)
    model = ge.load("qm9")
    test = qm9_splits()["test"]
    if args.reference:
        test = test[: args.reference]
    test = canonical(test)
    free_sampler = args.sampler
    sampler = constrained_sampler(args.constrained_sampler, args.mixing_steps, args.beta_end)

    t0 = time.perf_counter()
    free = model.sample(args.unconstrained, seed=args.seed, sampler=free_sampler, batch_size=args.batch_size)
    free_s = time.perf_counter() - t0
    free_valid = free.valid_smiles
    out = {"protocol": {"windows": WINDOWS, "num_samples": args.n, "num_unconstrained": args.unconstrained,
                        "reference": f"QM9 test split ({len(test)} molecules), molecules inside each window",
                        "sampler": args.sampler, "constrained_preset": args.constrained_sampler,
                        "constrained_sampler": sampler, "seed": args.seed,
                        "quick": bool(args.quick)},
           "unconstrained": {"validity": free.summary["validity"], "uniqueness": free.summary["uniqueness"],
                             "seconds": free_s},
           "windows": {}, "environment": environment()}
    for name in WINDOWS:
        (term,) = window_terms(model, [name])
        ref = [s for s, ok in zip(test, inside(term, test)) if ok]
        free_in = [s for s, ok in zip(free_valid, inside(term, free_valid)) if ok]
        rate = len(free_in) / max(len(free_valid), 1)
        t0 = time.perf_counter()
        s = model.sample(args.n, seed=args.seed + 1, sampler=sampler, batch_size=args.batch_size, extra_terms=[term])
        secs = time.perf_counter() - t0
        cache = {"lookups": term.cache.stats.lookups, "decodes": term.cache.stats.decodes}
        valid = s.valid_smiles
        ok = inside(term, valid)
        got = [v for v, k in zip(valid, ok) if k]
        yield_c = len(got) / args.n
        free_yield = len(free_in) / max(args.unconstrained, 1)
        row = {
            "validity": s.summary["validity"],
            "inside_fraction_of_valid": float(ok.mean()) if len(ok) else 0.0,
            "uniqueness": len(set(valid)) / len(valid) if valid else 0.0,
            "fcd_vs_test_in_window": fcd_or_none(got, ref),
            "reference_in_window": len(ref),
            "reference_in_window_fraction": len(ref) / max(len(test), 1),
            "yield_valid_inside_per_sample": yield_c,
            "seconds": secs,
            "evaluations_per_molecule": s.summary["evaluations_per_molecule"],
            "cache": cache,
            "phase_steps_mean": {k: float(v.double().mean()) for k, v in s.result.phase_steps.items()},
            "settle_chains_fraction": (float((s.result.phase_steps["settle"] > 0).double().mean())
                                       if "settle" in s.result.phase_steps else None),
            "rejection": {
                "inside_fraction_of_valid": rate,
                "yield_valid_inside_per_sample": free_yield,
                "samples_needed_for_same_count": (len(got) / free_yield) if free_yield > 0 else None,
                "uniqueness": len(set(free_in)) / len(free_in) if free_in else 0.0,
                "fcd_vs_test_in_window": fcd_or_none(free_in, ref),
            },
        }
        out["windows"][name] = row
        logging.info("%s: valid %.3f, inside %.3f, unique %.3f, FCD %s | rejection rate %.3f", name, row["validity"],
                     row["inside_fraction_of_valid"], row["uniqueness"], row["fcd_vs_test_in_window"], rate)
    graphs = free.result.graphs.index(slice(0, min(256, len(free))))
    out["overhead"] = overhead(model, graphs, repeats=3 if args.quick else 10)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 16 samples per window, 32 unconstrained, 1,000 reference molecules")
    p.add_argument("--n", type=int, default=1000, help="constrained samples per window")
    p.add_argument("--unconstrained", type=int, default=5000, help="unconstrained samples for rejection sampling")
    p.add_argument("--reference", type=int, default=0, help="use the first K QM9 test molecules (0: all)")
    p.add_argument("--sampler", default="default", help="preset of the unconstrained runs")
    p.add_argument("--constrained-sampler", default="constrained", help="preset of the constrained runs")
    p.add_argument("--mixing-steps", type=int, default=0, help="mixing steps of the constrained runs (0: as preset)")
    p.add_argument("--beta-end", type=float, default=None, help="final beta_mh of the constrained runs (default: preset)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.quick:
        args.n, args.unconstrained, args.reference = 16, 32, args.reference or 1000
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    res = run(args)
    out = args.out or str(RESULTS / ("property_windows_quick.json" if args.quick else "property_windows.json"))
    write_json(__import__("pathlib").Path(out), res)
    logging.info("wrote %s", out)


if __name__ == "__main__":
    main()
