"""Compositional generation with the bundled QM9 model: a product of two cheaply fine-tuned experts.

Two copies of the bundled model (``graph_energy/assets/qm9.pt``) are fine-tuned for a few hundred
phase-1 (transport-loss) updates on QM9 training subsets with two attributes ``a`` and ``b``
(default: an aromatic ring, and a carbonyl group; ``--attributes ring nitrogen`` for the other
pair). Their sum ``E_a + E_b`` (``ge.compose(a, b)``), the same sum with the shared base divided out
once (``E_a + E_b − E_base``: ``p_a·p_b / p_base``) and a negation (``E_a + E_base − E_b``: ``a``,
*not* what the ``b`` expert adds) are sampled with the same sampler as the single models. The table
gives, among valid samples, the rates of each attribute and of both, for the QM9 test molecules, the
base model, each expert and each composition, with validity and uniqueness beside them.

    python experiments/benchmarks/composition.py            # full protocol (fine-tune 300 updates, 1,000 samples)
    python experiments/benchmarks/composition.py --quick    # smoke test (2 updates, 16 samples)

Every row (base, experts, compositions) is sampled with the exact ``valid`` term and the repair phase
it brings (``model.sample(terms=["valid"])``; ``--valid-weight 0``: without, the first protocol).

Writes ``experiments/results/composition.json`` (``--quick``: ``composition_quick.json``); the
fine-tuned experts are kept under ``--work`` (default ``runs/composition``) for reuse (``--reuse``).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch
from property_common import RESULTS, environment, qm9_splits, write_json

import graph_energy as ge
from graph_energy.terms import preset, property_by_name
from graph_energy.terms.composition import compose

log = logging.getLogger("composition")

#: Attributes an expert can be fine-tuned for: (property of graph_energy.terms, threshold): property >= threshold.
#: Default pair aromatic + carbonyl: rare together in QM9 (``data_test`` in composition.json), so a product
#: of experts has room to beat either expert alone (ring + nitrogen are common together).
ATTRIBUTE_CHOICES = {"ring": ("rings", 1), "nitrogen": ("count_N", 1), "aromatic": ("smarts:a", 1),
                     "carbonyl": ("smarts:[CX3]=[OX1]", 1)}
ATTRIBUTES = {k: ATTRIBUTE_CHOICES[k] for k in ("aromatic", "carbonyl")}


def attributes(smiles: list[str]) -> dict[str, np.ndarray]:
    """``{attribute: (n,) bool}`` for valid SMILES (and ``both``)."""
    from rdkit import Chem

    out = {k: np.zeros(len(smiles), dtype=bool) for k in ATTRIBUTES}
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            continue
        for k, (prop, lo) in ATTRIBUTES.items():
            out[k][i] = property_by_name(prop)(mol) >= lo
    first, second = list(ATTRIBUTES)
    out["both"] = out[first] & out[second]
    return out


def rates(smiles: list[str]) -> dict[str, float]:
    a = attributes(smiles)
    n = max(len(smiles), 1)
    return {f"rate_{k}": float(v.sum() / n) for k, v in a.items()}


class SubsetGraphs:
    """An in-memory training set (``len`` and ``dense(idx, max_nodes)``, what the trainer's batches need)."""

    def __init__(self, smiles: list[str], spec) -> None:
        from graph_energy.chem.convert import ConversionError, graphs_to_labels, smiles_to_graph

        graphs = []
        for s in smiles:
            try:
                graphs.append(smiles_to_graph(s, spec))
            except ConversionError:
                continue
        self.labels = graphs_to_labels(graphs, spec.max_nodes)
        self.spec = spec

    def __len__(self) -> int:
        return self.labels.x.shape[0]

    def dense(self, idx, max_nodes=None, dtype=torch.float32):
        from graph_energy.data.dense import DenseGraph

        idx = torch.as_tensor(idx, dtype=torch.long).view(-1)
        n = int(self.labels.node_mask[idx].sum(1).max()) if max_nodes is None else int(max_nodes)
        lab = self.labels
        return DenseGraph.from_labels(lab.x[idx, :n], lab.e[idx, :n, :n], lab.node_mask[idx, :n],
                                      self.spec.num_atom_types, self.spec.num_bond_types, dtype)


def fine_tune(base: ge.GEMModel, smiles: list[str], run_dir: Path, steps: int, batch_size: int, lr: float,
              seed: int) -> Path:
    """Phase-1 fine-tuning of a copy of ``base`` on ``smiles``; returns the checkpoint (with a fresh calibration)."""
    from graph_energy.coupling import OTCoupling
    from graph_energy.models import build_energy_model
    from graph_energy.noise import UniformNoise
    from graph_energy.samplers import calibrate_thresholds
    from graph_energy.training import TrainConfig, Trainer, TransportObjective, WarmupSchedule
    from graph_energy.training.checkpoint import load_checkpoint, save_checkpoint

    data = SubsetGraphs(smiles, base.spec)
    ck = load_checkpoint(base.path)
    model = build_energy_model(ck.config["model"], base.spec)
    model.load_state_dict(ck.ema if ck.ema is not None else ck.model)
    objective = TransportObjective(UniformNoise.from_data(base.spec), OTCoupling())
    cfg = TrainConfig(max_steps=steps, batch_size=batch_size, ema_decay=0.98, log_every=max(1, steps // 10),
                      val_every=0, ckpt_every=0, keep_checkpoints=1, seed=seed, device="cpu")
    config = {**ck.config, "train": {**ck.config.get("train", {}), "init_from": str(base.path), "max_steps": steps,
                                     "batch_size": batch_size},
              "optim": {**ck.config.get("optim", {}), "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True,
                                                                  "lr": lr}}}
    trainer = Trainer(model, objective, lambda p: torch.optim.AdamW(p, lr=lr), WarmupSchedule(warmup_steps=0,
                      kind="constant"), data, None, base.spec.num_atom_types, base.spec.num_bond_types, cfg,
                      run_dir.absolute(), checkpoint_meta={"config": config, "spec": base.spec.to_dict(),
                                                           "stats": base.stats.to_dict(), "extras": {}})
    trainer.fit()
    path = run_dir / "checkpoints" / "last.pt"
    tuned = ge.load(path)
    graphs = data.dense(torch.arange(min(len(data), 2000)), max_nodes=base.spec.max_nodes)
    cal = calibrate_thresholds(tuned.model, graphs, 0.5)
    state = torch.load(path, weights_only=True)
    state["extras"] = {**state.get("extras", {}), "calibration": cal.to_dict()}
    save_checkpoint(path, state)
    return path


def sample_row(model, n: int, seed: int, batch_size: int, valid_weight: float = 0.0) -> dict:
    t0 = time.perf_counter()
    terms = [{"name": "valid", **preset("valid", weight=valid_weight)}] if valid_weight > 0 else []
    s = model.sample(n, seed=seed, batch_size=batch_size, terms=terms)
    valid = s.valid_smiles
    return {"validity": s.summary["validity"], "uniqueness": s.summary["uniqueness"], **rates(valid),
            "seconds": time.perf_counter() - t0, "num_samples": n}


def run(args) -> dict:
    torch.set_num_threads(1)
    base = ge.load("qm9")
    splits = qm9_splits()
    train = splits["train"]
    a = attributes(train)
    work = Path(args.work)
    experts = {}
    for name in ATTRIBUTES:
        subset = [s for s, ok in zip(train, a[name]) if ok]
        if args.max_train:
            subset = subset[: args.max_train]
        path = work / name / "checkpoints" / "last.pt"
        if not (args.reuse and path.is_file()):
            log.info("fine-tuning the %s expert on %d molecules for %d updates", name, len(subset), args.steps)
            t0 = time.perf_counter()
            fine_tune(base, subset, work / name, args.steps, args.batch_size_train, args.lr, args.seed)
            log.info("%s expert: %.0f s", name, time.perf_counter() - t0)
        experts[name] = ge.load(path)
    (na, ea), (nb, eb) = experts.items()
    models = {
        "base": base,
        na: ea,
        nb: eb,
        "sum": compose(ea, eb),
        "sum_minus_base": compose(ea, eb, (base, -1.0)),
        f"{na}_not_{nb}": compose(ea, (base, 1.0), (eb, -1.0)),
    }
    test = splits["test"][: args.reference or None]
    table = {"data_test": {"num_molecules": len(test), **rates(test)}}
    for name, model in models.items():
        table[name] = sample_row(model, args.n, args.seed, args.batch_size, args.valid_weight)
        log.info("%s: %s", name, {k: round(v, 3) for k, v in table[name].items() if isinstance(v, float)})
    return {"protocol": {"experts": {k: {"subset": f"QM9 train molecules with {ATTRIBUTES[k][0]} >= {ATTRIBUTES[k][1]}",
                                         "updates": args.steps, "batch_size": args.batch_size_train, "lr": args.lr}
                                     for k in ATTRIBUTES},
                         "compositions": {"sum": f"E_{na} + E_{nb}", "sum_minus_base": f"E_{na} + E_{nb} - E_base",
                                          f"{na}_not_{nb}": f"E_{na} + E_base - E_{nb}"},
                         "num_samples": args.n, "sampler": "default", "seed": args.seed, "quick": bool(args.quick),
                         "valid_term": ({"preset": "valid", "weight": args.valid_weight, "repair_steps": 400}
                                        if args.valid_weight > 0 else None),
                         "rates": "fractions of the valid samples"},
            "table": table, "environment": environment()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke test: 2 fine-tuning updates, 16 samples per model")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--attributes", nargs=2, default=["aromatic", "carbonyl"], choices=list(ATTRIBUTE_CHOICES),
                   help="the two experts' attributes (default: aromatic carbonyl)")
    p.add_argument("--steps", type=int, default=300, help="fine-tuning updates per expert")
    p.add_argument("--batch-size-train", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-train", type=int, default=0, help="first K molecules of each subset (0: all)")
    p.add_argument("--reference", type=int, default=0, help="first K QM9 test molecules for the data rates (0: all)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--valid-weight", type=float, default=0.01,
                   help="weight of the exact valid term (conf/terms/valid.yaml) in every row's target, with the "
                        "repair phase it brings (0: neither, the protocol of the first composition.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", default="runs/composition")
    p.add_argument("--reuse", action="store_true", help="reuse fine-tuned experts found under --work")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.attributes[0] == args.attributes[1]:
        p.error("--attributes needs two different attributes")
    global ATTRIBUTES
    ATTRIBUTES = {k: ATTRIBUTE_CHOICES[k] for k in args.attributes}
    if args.quick:
        args.n, args.steps, args.max_train, args.reference = 16, 2, args.max_train or 256, args.reference or 2000
        args.work = args.work if args.work != "runs/composition" else "runs/composition_quick"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    res = run(args)
    out = Path(args.out) if args.out else RESULTS / ("composition_quick.json" if args.quick else "composition.json")
    write_json(out, res)
    log.info("wrote %s", out)


if __name__ == "__main__":
    main()
