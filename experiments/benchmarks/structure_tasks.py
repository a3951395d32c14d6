"""Structure-level tasks of the bundled QM9 model: scaffold-constrained generation, geodesic interpolation
and energy scoring (issue: structure-level tasks).

* **scaffolds**: 20 Bemis–Murcko scaffolds (3–6 atoms) of QM9 test molecules, 50 samples each with 9
  heavy atoms (the size of 83 % of QM9; 3–6 free atoms): fraction containing the scaffold, validity,
  uniqueness, novelty (vs the training split), and the yield per energy evaluation against filtering
  unconstrained 9-atom samples for the scaffold. Scaffold requests carry the exact validity term and
  a ``repair`` phase for chains that end invalid (:mod:`graph_energy.samplers.inpaint`;
  ``--scaffold-repair 0`` leaves the phase out, the protocol before it existed).
* **interpolation**: 100 random pairs of QM9 test molecules of equal size and 100 of different size:
  valid fraction of the intermediate molecules, maximum energy along the path and barrier against the
  naive path (the same edits in a random order), path length against the graph edit distance (exact,
  by brute force), and the Tanimoto similarity to each end along the path.
* **scoring**: AUROC of QM9 test molecules (positives) against (a) the same molecules after random
  valid edits, (b) MOSES molecules with at most 9 heavy atoms (the molsets package's CSVs, read
  directly), (c) uniform noise graphs of the same sizes; raw energy vs the size-normalised z-score vs
  the same-size percentile, and the out-of-distribution flag rates.

Run from the repository root (``GEM_DATA_DIR`` pointing at the prepared QM9 data)::

    python experiments/benchmarks/structure_tasks.py --quick      # a few minutes on one CPU core
    python experiments/benchmarks/structure_tasks.py              # the full protocol

Writes ``experiments/results/structure_tasks[_quick].json`` and ``.md``; ``--parts scaffolds`` (etc.)
re-runs only those parts and keeps the others from an existing JSON (each part records its seconds).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import graph_energy as ge
from graph_energy.chem.convert import canonical_smiles, graph_to_mol
from graph_energy.chem.represent import represent
from graph_energy.data.dense import DenseGraph

REPO = Path(__file__).resolve().parents[2]
FULL = {"scaffolds": 20, "per_scaffold": 50, "baseline_per_size": 1000, "pairs": 100, "positives": 5000}
QUICK = {"scaffolds": 4, "per_scaffold": 20, "baseline_per_size": 100, "pairs": 10, "positives": 500}


# ---------------------------------------------------------------------------------------------- utilities
def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a negative > score of a positive), ties count one half (positives should score lower)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    pos, neg = pos[np.isfinite(pos)], neg[np.isfinite(neg)]
    if not len(pos) or not len(neg):
        return float("nan")
    from scipy.stats import rankdata

    r = rankdata(np.concatenate([pos, neg]))
    return float((r[len(pos):].sum() - len(neg) * (len(neg) + 1) / 2) / (len(pos) * len(neg)))


def within_size_auroc(pos, pos_n, neg, neg_n) -> float:
    """AUROC of raw energies computed within each node count and averaged (weights: negatives per size);
    what a per-size normalisation can reach at best."""
    total, weight = 0.0, 0
    for n in np.unique(neg_n[np.isfinite(neg)]):
        p, q = pos[pos_n == n], neg[neg_n == n]
        a = auroc(p, q)
        if np.isfinite(a):
            total, weight = total + a * np.isfinite(q).sum(), weight + np.isfinite(q).sum()
    return float(total / weight) if weight else float("nan")


def fingerprint(smiles: str):
    from rdkit import Chem, DataStructs  # noqa: F401
    from rdkit.Chem import rdFingerprintGenerator

    gen = fingerprint.gen = getattr(fingerprint, "gen", None) or rdFingerprintGenerator.GetMorganGenerator(
        radius=2, fpSize=2048)
    return gen.GetFingerprint(Chem.MolFromSmiles(smiles))


def tanimoto(a, b) -> float:
    from rdkit import DataStructs

    return float(DataStructs.TanimotoSimilarity(a, b))


def spearman(x, y) -> float:
    from scipy.stats import spearmanr

    if len(x) < 3 or np.std(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


# ---------------------------------------------------------------------------------------------- scoring
def random_valid_edits(g, spec, k: int, rng: np.random.Generator, tries: int = 200):
    """``g`` after ``k`` random single-coordinate edits (node class or pair class), valid and different."""
    n = g.num_nodes
    iu = np.triu_indices(n, 1)
    base = canonical_smiles(graph_to_mol(g.x, g.e, spec))
    for _ in range(tries):
        x, e = g.x.copy(), g.e.copy()
        coords = rng.choice(n + len(iu[0]), size=min(k, n + len(iu[0])), replace=False)
        for c in coords:
            if c < n:
                x[c] = rng.choice([v for v in range(spec.num_atom_types) if v != x[c]])
            else:
                i, j = iu[0][c - n], iu[1][c - n]
                e[i, j] = e[j, i] = rng.choice([v for v in range(spec.num_bond_types) if v != e[i, j]])
        mol = graph_to_mol(x, e, spec)
        s = canonical_smiles(mol) if mol is not None else None
        if s is not None and s != base:
            return s
    return None


_ATOM_TOKEN = r"\[[^\]]+\]|Br|Cl|[BCNOPSFIbcnops]"


def moses_folder() -> Path:
    """The MOSES data files shipped in the molsets wheel."""
    spec = importlib.util.find_spec("moses")
    if spec is None:
        raise SystemExit("the molsets package (moses) is not installed: pip install molsets")
    return Path(spec.origin).parent / "dataset" / "data"


def moses_small(max_atoms: int = 9) -> list[str]:
    """Distinct MOSES molecules (train, test, scaffold test) with at most ``max_atoms`` heavy atoms."""
    import pandas as pd
    from rdkit import Chem

    folder = moses_folder()
    out = {}
    for name in ("train.csv.gz", "test.csv.gz", "test_scaffolds.csv.gz"):
        s = pd.read_csv(folder / name, usecols=["SMILES"])["SMILES"]
        atoms = s.str.count(_ATOM_TOKEN)  # heavy atoms counted on the string: RDKit only for the few small ones
        for smi in s[atoms <= max_atoms]:
            mol = Chem.MolFromSmiles(smi)
            if mol is not None and mol.GetNumHeavyAtoms() <= max_atoms:
                out.setdefault(Chem.MolToSmiles(mol, isomericSmiles=False), None)
    return list(out)


def moses_fragments(max_atoms: int = 9, elements: frozenset = frozenset("CNOF")) -> list[str]:
    """Distinct Bemis–Murcko scaffolds of the MOSES test molecules with 3..``max_atoms`` heavy atoms, all
    of them in ``elements``: drug-like ring systems the QM9 vocabulary can represent (MOSES molecules
    that small all carry S, Cl or Br)."""
    import pandas as pd
    from rdkit import Chem, RDLogger
    from rdkit.Chem.Scaffolds import MurckoScaffold

    RDLogger.DisableLog("rdApp.*")
    out = {}
    for smi in pd.read_csv(moses_folder() / "test.csv.gz", usecols=["SMILES"])["SMILES"]:
        mol = Chem.MolFromSmiles(smi)
        core = MurckoScaffold.GetScaffoldForMol(mol) if mol is not None else None
        if core is None or not 3 <= core.GetNumHeavyAtoms() <= max_atoms:
            continue
        if all(a.GetSymbol() in elements for a in core.GetAtoms()):
            out.setdefault(Chem.MolToSmiles(core, isomericSmiles=False), None)
    return list(out)


def bench_scoring(model, data, ref, cfg: dict, seed: int) -> dict:
    from graph_energy.noise import MarginalNoise, UniformNoise
    from graph_energy.scoring import score_graphs, score_smiles

    rng = np.random.default_rng(seed)
    test = data.test.smiles
    pos_smiles = [test[i] for i in rng.choice(len(test), min(cfg["positives"], len(test)), replace=False)]
    pos = score_smiles(model.model, model.spec, pos_smiles, ref)
    ok = pos.representable
    sets = {}
    t = time.perf_counter()
    for k in (1, 3):
        edited = [random_valid_edits(represent(s, model.spec).graph, model.spec, k, rng) for s in pos_smiles]
        sets[f"edits_{k}"] = score_smiles(model.model, model.spec, [s or "" for s in edited], ref)
    moses = moses_small()
    sets["moses_le9"] = score_smiles(model.model, model.spec, moses, ref)
    fragments = moses_fragments()
    sets["moses_murcko_le9"] = score_smiles(model.model, model.spec, fragments, ref)
    in_qm9 = set(data.train.smiles) | set(data.val.smiles) | set(test)
    sizes = torch.as_tensor([r.num_nodes for r in pos.rows if r.ok])
    for name, dist in (("uniform_noise", UniformNoise(model.spec.num_atom_types, model.spec.num_bond_types)),
                       ("marginal_noise", MarginalNoise.from_data(model.spec, model.stats))):
        noise = dist.sample(sizes, torch.Generator().manual_seed(seed), max_nodes=model.spec.max_nodes)
        sets[name] = score_graphs(model.model, DenseGraph(noise.x, noise.e, noise.node_mask), ref)
    out = {"positives": {"num": int(ok.sum()), "ood_rate": float(pos.ood[ok].mean()),
                         "mean_energy": float(np.nanmean(pos.energies)), "median_z": float(np.nanmedian(pos.z))},
           "negatives": {}}
    pos_pct = np.asarray([r.percentile for r in pos.rows])
    pos_n = np.asarray([r.num_nodes for r in pos.rows])
    for name, rep in sets.items():
        okn = rep.representable
        pct = np.asarray([r.percentile for r in rep.rows])
        all_n = np.asarray([r.num_nodes for r in rep.rows])
        sizes_n = all_n[okn]
        out["negatives"][name] = {
            "num_inputs": len(rep), "num_scored": int(okn.sum()),
            "auroc_energy": auroc(pos.energies, rep.energies), "auroc_z": auroc(pos.z, rep.z),
            "auroc_percentile": auroc(pos_pct, pct),
            "auroc_energy_within_size": within_size_auroc(pos.energies, pos_n, rep.energies, all_n),
            "ood_rate": float(rep.ood[okn].mean()) if okn.any() else None,
            "median_z": float(np.nanmedian(rep.z)) if okn.any() else None,
            "size_histogram": {int(s): int((sizes_n == s).sum()) for s in np.unique(sizes_n)},
            "reasons": rep.summary()["reasons"]}
    from rdkit import Chem

    frag = out["negatives"]["moses_murcko_le9"]
    frag["in_qm9"] = float(np.mean([canonical_smiles(Chem.MolFromSmiles(f)) in in_qm9 for f in fragments])) \
        if fragments else None
    out["seconds"] = time.perf_counter() - t
    return out


# ---------------------------------------------------------------------------------------------- interpolation
def sample_pairs(data, spec, num: int, equal: bool, rng: np.random.Generator) -> list[tuple[str, str]]:
    test = data.test.smiles
    sizes = data.test.store.num_nodes.numpy()
    pairs, seen = [], set()
    while len(pairs) < num:
        i = int(rng.integers(len(test)))
        if equal:
            cand = np.nonzero(sizes == sizes[i])[0]
        else:
            cand = np.nonzero(sizes != sizes[i])[0]
        j = int(cand[rng.integers(len(cand))])
        if i == j or (i, j) in seen or not (represent(test[i], spec).ok and represent(test[j], spec).ok):
            continue
        seen.add((i, j))
        pairs.append((test[i], test[j]))
    return pairs


def path_stats(path, fa, fb) -> dict:
    mids = path.states[1:-1]
    valid = [(t, s.smiles) for t, s in enumerate(path.states) if s.valid]
    ta = [tanimoto(fingerprint(s), fa) for _, s in valid]
    tb = [tanimoto(fingerprint(s), fb) for _, s in valid]
    steps = [t for t, _ in valid]
    steps_ok = [a0 >= a1 - 1e-12 and b0 <= b1 + 1e-12 for a0, a1, b0, b1 in zip(ta, ta[1:], tb, tb[1:])]
    mono = all(steps_ok)
    return {"max_energy": path.max_energy, "barrier": path.barrier, "valid_fraction": path.valid_fraction,
            "num_intermediates": len(mids), "num_valid_intermediates": int(sum(s.valid for s in mids)),
            "connected_fraction": float(np.mean([s.valid and "." not in s.smiles for s in mids])) if mids else 1.0,
            "spearman_sim_a": spearman(steps, ta), "spearman_sim_b": spearman(steps, tb), "monotone": bool(mono),
            "monotone_steps": int(sum(steps_ok)), "valid_steps": len(steps_ok)}


def bench_interpolation(model, data, cfg: dict, seed: int, beam_width: int, penalties=(0.0, 1.0)) -> dict:
    from graph_energy.interpolation import align, exact_edit_distance, minimax_path, naive_path

    rng = np.random.default_rng(seed)
    out = {}
    for kind, equal in (("equal_size", True), ("different_size", False)):
        rows = []
        for p, (a, b) in enumerate(sample_pairs(data, model.spec, cfg["pairs"], equal, rng)):
            ra, rb = represent(a, model.spec), represent(b, model.spec)
            al = align(ra.graph, rb.graph)
            row = {"a": ra.smiles, "b": rb.smiles, "edit_distance": al.edit_distance,
                   "exact_edit_distance": exact_edit_distance(ra.graph, rb.graph)}
            fa, fb = fingerprint(ra.smiles), fingerprint(rb.smiles)
            naive = naive_path(model.model, model.spec, al, np.random.default_rng(seed * 1000 + p))
            row["naive"] = path_stats(naive, fa, fb)
            for pen in penalties:
                path = minimax_path(model.model, model.spec, al, beam_width, pen)
                row[f"minimax_pen{pen:g}"] = {**path_stats(path, fa, fb), "steps": len(path),
                                             "evaluations": path.evaluations}
            rows.append(row)
        out[kind] = {"pairs": rows, "summary": summarise_pairs(rows, penalties)}
    return out


def summarise_pairs(rows: list[dict], penalties) -> dict:
    nv = [r["naive"] for r in rows]
    out = {"num_pairs": len(rows), "mean_edit_distance": float(np.mean([r["edit_distance"] for r in rows])),
           "alignment_optimal_fraction": float(np.mean([r["edit_distance"] == r["exact_edit_distance"] for r in rows])),
           "naive": {"mean_barrier": float(np.mean([v["barrier"] for v in nv])),
                     "valid_intermediates": pooled_valid(nv),
                     "monotone_tanimoto_fraction": float(np.mean([v["monotone"] for v in nv])),
                     "monotone_step_fraction": float(sum(v["monotone_steps"] for v in nv) / max(1, sum(v["valid_steps"] for v in nv)))}}
    for pen in penalties:
        key = f"minimax_pen{pen:g}"
        mm = [r[key] for r in rows]
        out[key] = {
            "lower_max_energy_than_naive": float(np.mean([m["max_energy"] < v["max_energy"] - 1e-9 for m, v in zip(mm, nv)])),
            "lower_or_equal": float(np.mean([m["max_energy"] <= v["max_energy"] + 1e-9 for m, v in zip(mm, nv)])),
            "mean_barrier": float(np.mean([m["barrier"] for m in mm])),
            "mean_max_energy_drop": float(np.mean([v["max_energy"] - m["max_energy"] for m, v in zip(mm, nv)])),
            "valid_intermediates": pooled_valid(mm),
            "mean_valid_fraction": float(np.mean([m["valid_fraction"] for m in mm])),
            "connected_intermediates": float(np.mean([m["connected_fraction"] for m in mm])),
            "path_length_over_exact_ged": float(np.mean([m["steps"] / max(r["exact_edit_distance"], 1) for m, r in zip(mm, rows)])),
            "path_length_equals_exact_ged": float(np.mean([m["steps"] == r["exact_edit_distance"] for m, r in zip(mm, rows)])),
            "mean_spearman_sim_a": float(np.nanmean([m["spearman_sim_a"] for m in mm])),
            "mean_spearman_sim_b": float(np.nanmean([m["spearman_sim_b"] for m in mm])),
            "monotone_tanimoto_fraction": float(np.mean([m["monotone"] for m in mm])),
            "monotone_step_fraction": float(sum(m["monotone_steps"] for m in mm) / max(1, sum(m["valid_steps"] for m in mm))),
            "mean_evaluations": float(np.mean([m["evaluations"] for m in mm]))}
    return out


def pooled_valid(stats: list[dict]) -> float:
    total = sum(s["num_intermediates"] for s in stats)
    return float(sum(s["num_valid_intermediates"] for s in stats) / total) if total else 1.0


# ---------------------------------------------------------------------------------------------- scaffolds
def pick_scaffolds(data, spec, num: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """``num`` distinct Bemis–Murcko scaffolds with 3–6 atoms of test molecules (random order), with the
    size of the molecule each came from."""
    from rdkit import Chem

    from graph_energy.chem.fragments import murcko_scaffold

    test = data.test.smiles
    out, seen = [], set()
    for i in rng.permutation(len(test)):
        scaf = murcko_scaffold(test[i])
        if not scaf or scaf in seen:
            continue
        k = Chem.MolFromSmiles(scaf).GetNumHeavyAtoms()
        n = Chem.MolFromSmiles(test[i]).GetNumHeavyAtoms()
        if 3 <= k <= 6 and n > k:
            seen.add(scaf)
            out.append((scaf, n))
        if len(out) == num:
            break
    return out


def bench_scaffolds(model, data, cfg: dict, seed: int, sampler: str, repair: int = 400) -> dict:
    from graph_energy.chem.fragments import parse_template

    rng = np.random.default_rng(seed)
    train = set(data.train.smiles)
    scaffolds = pick_scaffolds(data, model.spec, cfg["scaffolds"], rng)
    rows, pools, n = [], {}, 9
    for s, (scaf, source_size) in enumerate(scaffolds):
        t0 = time.perf_counter()
        res = model.sample(cfg["per_scaffold"], seed=seed + s, num_nodes=n, scaffold=scaf, sampler=sampler,
                           repair=repair)
        template = parse_template(scaf, model.spec)
        valid = [x for x in res.smiles if x is not None]
        has = [template.contained_in(x) for x in res.smiles]
        uniq = set(valid)
        evals = int(res.result.evaluations.sum())
        if n not in pools:
            pools[n] = model.sample(cfg["baseline_per_size"], seed=10_000 + n, num_nodes=n, sampler=sampler)
        pool = pools[n]
        pool_hits = sum(template.contained_in(x) for x in pool.smiles)
        rows.append({"scaffold": scaf, "num_nodes": n, "source_size": source_size, "samples": len(res),
                     "contains_scaffold": float(np.mean(has)),
                     "contains_scaffold_valid": float(np.mean([template.contained_in(x) for x in valid])) if valid else None,
                     "validity": len(valid) / len(res), "uniqueness": len(uniq) / len(valid) if valid else 0.0,
                     "novelty": len(uniq - train) / len(uniq) if uniq else 0.0,
                     "connected": float(np.mean([x is not None and "." not in x for x in res.smiles])),
                     "evaluations": evals,
                     "yield_per_1k_evaluations": 1000 * sum(h and x is not None for h, x in zip(has, res.smiles)) / evals,
                     "unconstrained_hit_rate": pool_hits / len(pool),
                     "unconstrained_yield_per_1k_evaluations": 1000 * pool_hits / int(pool.result.evaluations.sum()),
                     "seconds": time.perf_counter() - t0})
    keys = ("contains_scaffold", "contains_scaffold_valid", "validity", "uniqueness", "novelty", "connected", "yield_per_1k_evaluations",
            "unconstrained_hit_rate", "unconstrained_yield_per_1k_evaluations")
    summary = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    summary["all_valid_contain_scaffold"] = bool(all(r["contains_scaffold_valid"] == 1.0 for r in rows))
    summary["min_validity"] = float(min(r["validity"] for r in rows))
    summary["min_uniqueness"] = float(min(r["uniqueness"] for r in rows))
    summary["yield_ratio"] = (summary["yield_per_1k_evaluations"] / summary["unconstrained_yield_per_1k_evaluations"]
                              if summary["unconstrained_yield_per_1k_evaluations"] else None)
    protocol = {"sampler": sampler, "repair_steps": int(repair), "valid_term": "conf/terms/valid.yaml",
                "unconstrained": f"{sampler} sampler, no extra terms"}
    return {"scaffolds": rows, "summary": summary, "protocol": protocol}


# ---------------------------------------------------------------------------------------------- report
def markdown(res: dict) -> str:
    env = res["env"]
    parts = res.get("parts_run") or ["scaffolds", "interpolation", "scoring"]
    timing = (f"{res['seconds']:.0f} s in all." if len(parts) == 3 else
              f"{res['seconds']:.0f} s for the part(s) run last ({', '.join(parts)}); the others are kept from "
              "the run before.")
    lines = [f"# Structure-level tasks ({'quick' if res['quick'] else 'full'} run, bundled QM9 model)", "",
             f"torch {env['torch']}, {env['machine']}, {env['threads']} thread(s); {timing}", ""]
    if "scaffolds" in res:
        s = res["scaffolds"]["summary"]
        lines += ["## Scaffold-constrained generation", "",
                  "| scaffold | n | contains (all / valid) | validity | uniqueness | novelty | yield / 1k evals | unconstrained hit rate | unconstrained yield / 1k evals |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in res["scaffolds"]["scaffolds"]:
            lines.append(f"| `{r['scaffold']}` | {r['num_nodes']} | {r['contains_scaffold']:.2f} / "
                         f"{r['contains_scaffold_valid']:.2f} | {r['validity']:.2f} | "
                         f"{r['uniqueness']:.2f} | {r['novelty']:.2f} | {r['yield_per_1k_evaluations']:.2f} | "
                         f"{r['unconstrained_hit_rate']:.3f} | {r['unconstrained_yield_per_1k_evaluations']:.3f} |")
        lines += ["", f"Mean: contains {s['contains_scaffold']:.3f} of all samples, {s['contains_scaffold_valid']:.3f} of "
                  f"the valid ones (every scaffold 100 %: {s['all_valid_contain_scaffold']}), validity "
                  f"{s['validity']:.3f} (min {s['min_validity']:.2f}), uniqueness {s['uniqueness']:.3f} (min "
                  f"{s['min_uniqueness']:.2f}), novelty {s['novelty']:.3f}; yield per evaluation "
                  f"{s['yield_ratio'] or float('nan'):.1f}x that of filtering unconstrained samples.", ""]
    if "interpolation" in res:
        lines += ["## Geodesic interpolation", "",
                  "| pairs | method | lower max energy than naive | mean barrier | valid intermediates | connected | path / exact GED | ρ(sim a) | ρ(sim b) | monotone Tanimoto (paths / steps) | evaluations |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for kind, block in res["interpolation"].items():
            s = block["summary"]
            nv = s["naive"]
            lines.append(f"| {kind} ({s['num_pairs']}) | naive | – | {nv['mean_barrier']:.2f} | {nv['valid_intermediates']:.3f} | – | 1.00 | – | – | {nv['monotone_tanimoto_fraction']:.2f} / {nv['monotone_step_fraction']:.2f} | – |")
            for key in [k for k in s if k.startswith("minimax")]:
                m = s[key]
                lines.append(f"| {kind} | {key} | {m['lower_max_energy_than_naive']:.2f} | {m['mean_barrier']:.2f} | "
                             f"{m['valid_intermediates']:.3f} | {m['connected_intermediates']:.2f} | "
                             f"{m['path_length_over_exact_ged']:.2f} | {m['mean_spearman_sim_a']:.2f} | "
                             f"{m['mean_spearman_sim_b']:.2f} | {m['monotone_tanimoto_fraction']:.2f} / "
                             f"{m['monotone_step_fraction']:.2f} | {m['mean_evaluations']:.0f} |")
            lines.append(f"| {kind} | alignment = exact GED | {s['alignment_optimal_fraction']:.2f} of pairs | mean edit distance {s['mean_edit_distance']:.1f} | | | | | | | |")
        lines += ["", "`minimax_pen0`: the learned energy alone; `minimax_pen1`: +1 on the search cost of invalid "
                  "states. Different-size paths insert atoms as isolated nodes (one coordinate per step), hence "
                  "the disconnected intermediates.", ""]
    if "scoring" in res:
        s = res["scoring"]
        lines += ["## Scoring (AUROC: QM9 test molecules vs negatives; higher = better separated)", "",
                  f"Positives: {s['positives']['num']} test molecules, flagged OOD: {s['positives']['ood_rate']:.3f} "
                  f"(calibrated for {1 - res['reference']['ood_quantile']:.2f}).", "",
                  "| negatives | scored / given | AUROC energy | AUROC z (per size) | AUROC percentile | AUROC energy within sizes | flagged OOD | median z |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, n in s["negatives"].items():
            mz = "–" if n["median_z"] is None else f"{n['median_z']:.2f}"
            ood = "–" if n["ood_rate"] is None else f"{n['ood_rate']:.3f}"
            lines.append(f"| {name} | {n['num_scored']} / {n['num_inputs']} | {n['auroc_energy']:.3f} | {n['auroc_z']:.3f} | "
                         f"{n['auroc_percentile']:.3f} | {n['auroc_energy_within_size']:.3f} | {ood} | {mz} |")
        moses = s["negatives"].get("moses_le9", {})
        if moses:
            lines += ["", f"MOSES ≤ 9 heavy atoms: reasons for the unscored ones: {moses['reasons']}; sizes scored: "
                      f"{moses['size_histogram']}."]
        frag = s["negatives"].get("moses_murcko_le9", {})
        if frag:
            lines += ["", "MOSES Bemis–Murcko scaffolds (test split, 3–9 heavy atoms, C/N/O/F only): the drug-like "
                      f"ring systems the vocabulary can represent; {frag['num_scored']} scored, "
                      f"{frag.get('in_qm9') or 0:.0%} of them are QM9 molecules themselves."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small run (minutes on one core)")
    ap.add_argument("--parts", nargs="+", default=["scoring", "interpolation", "scaffolds"],
                    choices=["scoring", "interpolation", "scaffolds"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--beam-width", type=int, default=8)
    ap.add_argument("--sampler", default="default")
    ap.add_argument("--scaffold-repair", type=int, default=400, help="repair-phase cap of scaffold requests (0: none)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="output stem (default experiments/results/structure_tasks[_quick])")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = QUICK if args.quick else FULL
    from graph_energy.data import load_dataset
    from graph_energy.scoring import reference_for_model

    t0 = time.perf_counter()
    stem = Path(args.out) if args.out else REPO / "experiments" / "results" / (
        "structure_tasks_quick" if args.quick else "structure_tasks")
    model = ge.load("qm9")
    data = load_dataset({"name": "qm9"})
    ref = reference_for_model(model.model, model.spec, model.config.get("dataset") or {"name": "qm9"})
    res = {"quick": args.quick, "config": cfg, "seed": args.seed, "beam_width": args.beam_width,
           "env": {"torch": torch.__version__, "machine": platform.machine(), "threads": args.threads},
           "reference": {"split": ref.split, "ood_quantile": ref.ood_quantile, "min_count": ref.min_count,
                         "num_graphs": ref.source.get("num_graphs"),
                         "sizes": {n: {"count": r.count, "pooled": r.pooled, "median": r.center, "threshold": r.threshold}
                                   for n, r in ref.sizes.items()}}}
    old = json.loads(stem.with_suffix(".json").read_text()) if stem.with_suffix(".json").is_file() else {}
    if old and (old.get("quick") != args.quick or old.get("seed") != args.seed):
        old = {}  # another protocol: nothing to keep
    part_seconds = dict(old.get("part_seconds") or {})
    for part in ("scaffolds", "interpolation", "scoring"):
        if part not in args.parts:
            if part in old:
                res[part] = old[part]
            continue
        t_part = time.perf_counter()
        if part == "scaffolds":
            res[part] = bench_scaffolds(model, data, cfg, args.seed, args.sampler, args.scaffold_repair)
        elif part == "interpolation":
            res[part] = bench_interpolation(model, data, cfg, args.seed, args.beam_width)
        else:
            res[part] = bench_scoring(model, data, ref, cfg, args.seed)
        part_seconds[part] = time.perf_counter() - t_part
    res["part_seconds"] = part_seconds
    res["parts_run"] = [p for p in ("scaffolds", "interpolation", "scoring") if p in args.parts]
    res["seconds"] = time.perf_counter() - t0
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
    md = markdown(res)
    stem.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
