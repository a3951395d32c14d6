"""Turn raw SMILES splits into compact graph stores, a spec derived from the training split, and a report.

Pipeline: encode every SMILES without a vocabulary with the injected encoder (which also verifies
the round trip and applies the chemistry rules of the :class:`~graph_energy.data.policy.MoleculePolicy`;
by default :func:`graph_energy.chem.encode.encode_chunk`, in worker processes for large inputs) ->
drop molecules with elements the policy does not allow -> choose the size limit (a bound, a quantile
of the training sizes, or the largest training molecule, with a warning when one row alone sets it)
-> derive the atom vocabulary (with formal charges) from the training split
(:func:`~graph_energy.data.encoded.derive_spec`), unless a spec is given -> map atoms to class ids,
dropping molecules with atoms outside the vocabulary or above the size limit ->
:class:`~graph_energy.data.store.GraphStore` per split and :class:`~graph_energy.data.stats.DatasetStats`
of the training split. Every drop and every modification is counted in the report. Nothing here
parses chemistry.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from graph_energy.data.encoded import ROUNDTRIP_REASONS, EncodedSplit, Encoder, derive_spec, encode_all
from graph_energy.data.policy import MoleculePolicy, apply_element_rule, apply_size_rule
from graph_energy.data.sources.base import RawSplits
from graph_energy.data.spec import AROMATIC_BONDS, MolecularSpec
from graph_energy.data.stats import DatasetStats
from graph_energy.data.store import GraphStore

__all__ = ["BuildResult", "build_splits"]

log = logging.getLogger(__name__)

#: Drop reasons of the policy rules (reported as a warning, they change what the data is).
POLICY_REASONS = ("element", "fragments", "isotope", "hydrogen", "encoding")


@dataclass
class BuildResult:
    spec: MolecularSpec
    stores: dict[str, GraphStore]
    stats: DatasetStats
    report: dict


def _graphs_of(flat_positions: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Graph id of each flat element position (``ptr`` are the ``(k+1,)`` offsets)."""
    return np.searchsorted(ptr, flat_positions, side="right") - 1


def _to_store(enc: EncodedSplit, source_index: np.ndarray, spec: MolecularSpec, names: dict[str, int],
              failed: Counter, examples: dict, modified: Counter) -> GraphStore:
    """Map codes to spec ids, drop molecules outside the vocabulary or size limit, pack a store;
    ``modified`` counts the policy's modifications of the molecules kept.

    Works on small integer dtypes throughout: MOSES has ~35 M atoms and ~38 M bonds.
    """
    table = list(names)
    atom_map = np.asarray([spec.atom_types.index(n) if n in spec.atom_types else -1 for n in table] or [-1],
                          dtype=np.int16)
    bond_map = np.asarray([spec.bond_types.index(b) if b in spec.bond_types else -1 for b in AROMATIC_BONDS],
                          dtype=np.int16)
    x = atom_map[enc.atom_codes]
    battr = bond_map[enc.bonds[:, 2]]
    n_nodes = np.diff(enc.atom_ptr)
    n_bonds = np.diff(enc.bond_ptr)
    k = len(n_nodes)
    bad_atom = np.zeros(k, dtype=bool)
    bad_atom[_graphs_of(np.flatnonzero(x < 0), enc.atom_ptr)] = True
    bad_bond = np.zeros(k, dtype=bool)
    bad_bond[_graphs_of(np.flatnonzero(battr < 0), enc.bond_ptr)] = True
    too_large = n_nodes > spec.max_nodes
    drops = {"too_large": too_large, "unknown_atom": bad_atom & ~too_large,
             "unknown_bond": bad_bond & ~bad_atom & ~too_large}
    for reason, mask in drops.items():
        if mask.any():
            failed[reason] += int(mask.sum())
            g = int(np.flatnonzero(mask)[0])
            atoms = [table[c] for c in enc.atom_codes[enc.atom_ptr[g]:enc.atom_ptr[g + 1]]]
            examples.setdefault(reason, f"{enc.smiles[g]!r} ({len(atoms)} atoms {sorted(set(atoms))}; vocabulary "
                                        f"{list(spec.atom_types)}, max_nodes {spec.max_nodes})")
    keep = ~(too_large | bad_atom | bad_bond)
    for notes, kp in zip(enc.notes, keep.tolist()):
        if kp:
            modified.update(notes)
    bonds = enc.bonds
    smiles = enc.smiles
    if not keep.all():
        x = x[np.repeat(keep, n_nodes)]
        bond_keep = np.repeat(keep, n_bonds)
        battr, bonds = battr[bond_keep], bonds[bond_keep]
        smiles = [s for s, kp in zip(smiles, keep.tolist()) if kp]
    ptr = lambda c: torch.from_numpy(np.concatenate([[0], np.cumsum(c)]).astype(np.int64))  # noqa: E731
    blob = "".join(smiles)
    if blob.isascii():
        sbytes, lengths = blob.encode("ascii"), [len(t) for t in smiles]
    else:
        encoded = [t.encode("utf-8") for t in smiles]
        sbytes, lengths = b"".join(encoded), [len(t) for t in encoded]
    idx_dtype = np.int16 if spec.max_nodes < 2 ** 15 else np.int32
    return GraphStore(
        x=torch.from_numpy(x.astype(np.uint8)),
        node_ptr=ptr(n_nodes[keep]),
        bond_index=torch.from_numpy(np.ascontiguousarray(bonds[:, :2].T, dtype=idx_dtype)),
        bond_attr=torch.from_numpy(battr.astype(np.uint8)),
        bond_ptr=ptr(n_bonds[keep]),
        smiles_bytes=torch.from_numpy(np.frombuffer(sbytes, dtype=np.uint8).copy()),
        smiles_ptr=ptr(lengths),
        source_index=torch.from_numpy(source_index[enc.pos[keep]].astype(np.int64)),
    )


def build_splits(raw: RawSplits, name: str, *, encode: Encoder, kekulize: bool = True, max_nodes: int | None = None,
                 spec: MolecularSpec | None = None, workers: int = 2, chunk_size: int = 2000,
                 policy: MoleculePolicy | None = None) -> BuildResult:
    """Encode, check and pack every split of ``raw``; the vocabulary comes from ``raw.smiles['train']``
    unless ``spec`` is given (then its vocabulary, bonds, size limit and kekulization are used).

    ``encode`` is the chunk encoder (see :mod:`graph_energy.data.encoded`); it must be picklable
    when ``workers > 1``. ``policy``: which molecules are kept and how they are standardised
    (default: the historical rules, :class:`~graph_energy.data.policy.MoleculePolicy`)."""
    policy = policy or MoleculePolicy()
    if "train" not in raw.smiles:
        raise ValueError(f"dataset {name!r} has no 'train' split (splits {sorted(raw.smiles)})")
    if spec is not None:
        kekulize, max_nodes = spec.kekulize, spec.max_nodes
        if policy.max_nodes_quantile is not None:
            raise ValueError("a fixed spec sets max_nodes; drop dataset.policy.max_nodes_quantile (or dataset.spec)")
    if spec is not None and len(spec.atom_types) > 255:
        raise ValueError(f"{len(spec.atom_types)} atom types: at most 255 are supported")
    chemistry = None if policy.is_legacy_chemistry else policy.chemistry
    names: dict[str, int] = {}
    total = raw.num_rows
    use_pool = workers > 1 and total > 4 * chunk_size
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None)
    pool = ctx.Pool(workers) if use_pool else None
    try:
        encoded = {split: encode_all(smiles, encode, kekulize, max_nodes, names, chunk_size, pool, chemistry)
                   for split, smiles in raw.smiles.items()}
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    passed = sum(len(e.pos) for e in encoded.values())
    dropped_elements: Counter = Counter()
    encoded = {s: apply_element_rule(e, names, policy.elements, dropped_elements) for s, e in encoded.items()}
    warnings: list[str] = []
    rule = "the fixed spec"
    if spec is None:
        limit, rule = apply_size_rule(encoded, raw.source_index, name, max_nodes, policy.max_nodes_quantile,
                                      warnings)
        spec = derive_spec(name, encoded["train"], names, kekulize, limit)
    stores, dropped, examples, modified = {}, {}, {}, {}
    for split in list(encoded):
        enc = encoded.pop(split)  # free each split's intermediate arrays once packed
        failed, changed = Counter(enc.failed), Counter()
        examples.update({k: v for k, v in enc.examples.items() if k not in examples})
        stores[split] = _to_store(enc, raw.source_index[split], spec, names, failed, examples, changed)
        dropped[split] = dict(sorted(failed.items()))
        modified[split] = dict(sorted(changed.items()))
        del enc
    train = stores["train"]
    if len(train) == 0:
        raise ValueError(f"every training molecule of {name!r} was dropped ({dropped['train']}); examples: {examples}")
    stats = DatasetStats.from_counts(train.num_nodes, train.x.long(), train.bond_attr.long(),
                                     spec.num_atom_types, spec.num_bond_types, spec.max_nodes)
    kept = sum(len(s) for s in stores.values())
    rt_fail = sum(d.get(r, 0) for d in dropped.values() for r in ROUNDTRIP_REASONS)
    dropped_total = dict(sum((Counter(d) for d in dropped.values()), Counter()))
    modified_total = dict(sum((Counter(d) for d in modified.values()), Counter()))
    _log_policy(name, raw.num_rows, kept, dropped_total, modified_total, dict(dropped_elements))
    report = {
        "dataset": name,
        "protocol": raw.info.get("protocol"),
        "rows_read": raw.num_rows,
        "split_sizes": {k: len(v) for k, v in stores.items()},
        "dropped": dropped,
        "dropped_total": dropped_total,
        "dropped_elements": dict(sorted(dropped_elements.items())),
        "drop_examples": examples,
        "modified": modified,
        "modified_total": modified_total,
        "policy": policy.to_dict(),
        "max_nodes_rule": rule,
        "warnings": warnings,
        "kept": kept,
        "round_trip_checked": passed + rt_fail,
        "round_trip_rate": passed / (passed + rt_fail) if passed + rt_fail else 1.0,
        "kept_rate": kept / raw.num_rows if raw.num_rows else 1.0,
        "vocabulary": {"atom_types": list(spec.atom_types), "bond_types": list(spec.bond_types)},
        "kekulize": spec.kekulize,
        "max_nodes": spec.max_nodes,
        "largest_train_graph": int(train.num_nodes.max()),
        "source_info": {k: v for k, v in raw.info.items() if k != "protocol"},
    }
    return BuildResult(spec, stores, stats, report)


def _log_policy(name: str, rows: int, kept: int, dropped: dict, modified: dict, elements: dict) -> None:
    """One line on what the policy did: a warning when it dropped rows or changed molecules."""
    ruled = {k: v for k, v in dropped.items() if k in POLICY_REASONS}
    level = logging.WARNING if ruled or modified else logging.INFO
    parts = [f"kept {kept} of {rows} rows", f"dropped {dict(sorted(dropped.items())) or 'none'}"]
    if elements:
        parts.append(f"dropped for elements {dict(sorted(elements.items()))}")
    if modified:
        parts.append(f"modified {dict(sorted(modified.items()))}")
    log.log(level, "dataset %s: %s (report: dropped, modified, drop_examples; rules: dataset.policy)", name,
            "; ".join(parts))
