"""Turn raw SMILES splits into compact graph stores, a spec derived from the training split, and a report.

Pipeline: encode every SMILES without a vocabulary with the injected encoder (which also verifies
the round trip; by default :func:`graph_energy.chem.encode.encode_chunk`, in worker processes for
large inputs) -> derive the atom vocabulary (with formal charges) and the size limit from the
training split (:func:`~graph_energy.data.encoded.derive_spec`), unless a spec is given -> map atoms
to class ids, dropping molecules with atoms outside the vocabulary or above the size limit ->
:class:`~graph_energy.data.store.GraphStore` per split and :class:`~graph_energy.data.stats.DatasetStats`
of the training split. Nothing here parses chemistry.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from graph_energy.data.encoded import ROUNDTRIP_REASONS, EncodedSplit, Encoder, derive_spec, encode_all
from graph_energy.data.sources.base import RawSplits
from graph_energy.data.spec import AROMATIC_BONDS, MolecularSpec
from graph_energy.data.stats import DatasetStats
from graph_energy.data.store import GraphStore

__all__ = ["BuildResult", "build_splits"]


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
              failed: Counter, examples: dict) -> GraphStore:
    """Map codes to spec ids, drop molecules outside the vocabulary or size limit, pack a store.

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
                 spec: MolecularSpec | None = None, workers: int = 2, chunk_size: int = 2000) -> BuildResult:
    """Encode, check and pack every split of ``raw``; the vocabulary comes from ``raw.smiles['train']``
    unless ``spec`` is given (then its vocabulary, bonds, size limit and kekulization are used).

    ``encode`` is the chunk encoder (see :mod:`graph_energy.data.encoded`); it must be picklable
    when ``workers > 1``."""
    if "train" not in raw.smiles:
        raise ValueError(f"dataset {name!r} has no 'train' split (splits {sorted(raw.smiles)})")
    if spec is not None:
        kekulize, max_nodes = spec.kekulize, spec.max_nodes
    if spec is not None and len(spec.atom_types) > 255:
        raise ValueError(f"{len(spec.atom_types)} atom types: at most 255 are supported")
    names: dict[str, int] = {}
    total = raw.num_rows
    use_pool = workers > 1 and total > 4 * chunk_size
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None)
    pool = ctx.Pool(workers) if use_pool else None
    try:
        encoded = {split: encode_all(smiles, encode, kekulize, max_nodes, names, chunk_size, pool)
                   for split, smiles in raw.smiles.items()}
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if spec is None:
        spec = derive_spec(name, encoded["train"], names, kekulize, max_nodes)
    passed = sum(len(e.pos) for e in encoded.values())
    stores, dropped, examples = {}, {}, {}
    for split in list(encoded):
        enc = encoded.pop(split)  # free each split's intermediate arrays once packed
        failed = Counter(enc.failed)
        examples.update({k: v for k, v in enc.examples.items() if k not in examples})
        stores[split] = _to_store(enc, raw.source_index[split], spec, names, failed, examples)
        dropped[split] = dict(sorted(failed.items()))
        del enc
    train = stores["train"]
    if len(train) == 0:
        raise ValueError(f"every training molecule of {name!r} was dropped ({dropped['train']}); examples: {examples}")
    stats = DatasetStats.from_counts(train.num_nodes, train.x.long(), train.bond_attr.long(),
                                     spec.num_atom_types, spec.num_bond_types, spec.max_nodes)
    kept = sum(len(s) for s in stores.values())
    rt_fail = sum(d.get(r, 0) for d in dropped.values() for r in ROUNDTRIP_REASONS)
    report = {
        "dataset": name,
        "protocol": raw.info.get("protocol"),
        "rows_read": raw.num_rows,
        "split_sizes": {k: len(v) for k, v in stores.items()},
        "dropped": dropped,
        "dropped_total": dict(sum((Counter(d) for d in dropped.values()), Counter())),
        "drop_examples": examples,
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
