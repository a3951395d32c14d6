"""Molecules encoded without a vocabulary, and the one rule that derives a vocabulary from them.

The dataset builder never parses chemistry itself: an *encoder* (a picklable function
``encode(smiles, kekulize=..., max_nodes=...) -> EncodedChunk``, by default
:func:`graph_energy.chem.encode.encode_chunk`) turns a chunk of SMILES into the compact form
below. This module defines that contract, merges chunks into one :class:`EncodedSplit` per split
and derives a :class:`~graph_energy.data.spec.MolecularSpec` from the training split
(:func:`derive_spec`): the only place where a vocabulary is derived from molecules.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from graph_energy.data.spec import AROMATIC_BONDS, KEKULE_BONDS, MolecularSpec

__all__ = ["EncodedChunk", "EncodedSplit", "Encoder", "encode_all", "derive_spec", "select", "ROUNDTRIP_REASONS"]

log = logging.getLogger(__name__)

#: Drop reasons of molecules whose rebuilt graph did not give the input molecule back.
ROUNDTRIP_REASONS = ("roundtrip_invalid", "roundtrip_mismatch")


@dataclass
class EncodedChunk:
    """Encoded molecules of one chunk of input rows, in compact concatenated form.

    Attributes:
        ok: ``(k,)`` positions (within the chunk) of the molecules that encoded.
        smiles: ``k`` canonical SMILES.
        names: chunk-local atom-name table (``"C"``, ``"N+"``, ...); ``atom_codes`` index into it.
        atom_codes: ``(total_atoms,)`` int16; ``atom_ptr`` ``(k+1,)`` offsets.
        bonds: ``(total_bonds, 3)`` int16 ``(i, j, code)`` with ``i < j`` and ``code`` the index of
            the bond into :data:`~graph_energy.data.spec.AROMATIC_BONDS`; ``bond_ptr`` ``(k+1,)`` offsets.
        failed: ``{position: reason}`` for the rows that did not encode.
        examples: first detail message per reason (for reports).
        notes: ``k`` tuples of modifications made to each encoded molecule (e.g.
            ``("fragments_stripped",)``; see :mod:`graph_energy.data.policy`); ``None``: none.
    """

    ok: np.ndarray
    smiles: list
    names: list
    atom_codes: np.ndarray
    atom_ptr: np.ndarray
    bonds: np.ndarray
    bond_ptr: np.ndarray
    failed: dict
    examples: dict
    notes: list | None = None


#: ``encode(smiles_chunk, kekulize=bool, max_nodes=int | None[, policy=dict]) -> EncodedChunk`` (picklable, for
#: worker pools); ``policy`` (the chemistry rules of a :class:`~graph_energy.data.policy.MoleculePolicy`) is
#: only passed when it differs from the historical behaviour.
Encoder = Callable[..., EncodedChunk]


@dataclass
class EncodedSplit:
    """All encoded molecules of one split (atom codes index one table shared by every split)."""

    pos: np.ndarray          # (k,) row position within the split
    smiles: list             # k canonical SMILES
    atom_codes: np.ndarray   # (total_atoms,) int32 codes into the global name table
    atom_ptr: np.ndarray     # (k+1,)
    bonds: np.ndarray        # (total_bonds, 3) int16 (i, j, bond code)
    bond_ptr: np.ndarray     # (k+1,)
    failed: Counter
    examples: dict
    notes: list = field(default_factory=list)  # k tuples of modifications (see EncodedChunk.notes)


def select(enc: EncodedSplit, keep: np.ndarray, reason: str, example: str) -> EncodedSplit:
    """``enc`` with only the molecules where ``keep`` (``(k,)`` bool) holds; the others are counted
    as dropped for ``reason`` (``example`` describes the first one)."""
    keep = np.asarray(keep, dtype=bool)
    n_nodes, n_bonds = np.diff(enc.atom_ptr), np.diff(enc.bond_ptr)
    failed = Counter(enc.failed)
    examples = dict(enc.examples)
    if (~keep).any():
        failed[reason] += int((~keep).sum())
        examples.setdefault(reason, example)
    ptr = lambda c: np.concatenate([[0], np.cumsum(c)]).astype(np.int64)  # noqa: E731
    flags = keep.tolist()
    return EncodedSplit(enc.pos[keep], [s for s, k in zip(enc.smiles, flags) if k],
                        enc.atom_codes[np.repeat(keep, n_nodes)], ptr(n_nodes[keep]),
                        enc.bonds[np.repeat(keep, n_bonds)], ptr(n_bonds[keep]), failed, examples,
                        [n for n, k in zip(enc.notes, flags) if k] if enc.notes else [])


def _merge(chunks: list[tuple[int, EncodedChunk]], names: dict[str, int]) -> EncodedSplit:
    pos, smiles, codes, bonds, aptr, bptr = [], [], [], [], [np.zeros(1, np.int64)], [np.zeros(1, np.int64)]
    notes: list = []
    failed: Counter = Counter()
    examples: dict = {}
    a_off = b_off = 0
    chunks.reverse()
    while chunks:
        start, c = chunks.pop()  # drop each chunk once copied
        table = np.asarray([names.setdefault(n, len(names)) for n in c.names] or [0], dtype=np.int32)
        pos.append(c.ok + start)
        smiles.extend(c.smiles)
        notes.extend(c.notes if c.notes is not None else [()] * len(c.smiles))
        codes.append(table[c.atom_codes.astype(np.int64)] if len(c.atom_codes) else np.zeros(0, np.int32))
        bonds.append(c.bonds)
        aptr.append(c.atom_ptr[1:] + a_off)
        bptr.append(c.bond_ptr[1:] + b_off)
        a_off += int(c.atom_ptr[-1])
        b_off += int(c.bond_ptr[-1])
        failed.update(c.failed.values())
        for k, v in c.examples.items():
            examples.setdefault(k, v)
    cat = np.concatenate
    return EncodedSplit(cat(pos) if pos else np.zeros(0, np.int64), smiles,
                        cat(codes) if codes else np.zeros(0, np.int32), cat(aptr),
                        cat(bonds) if bonds else np.zeros((0, 3), np.int16), cat(bptr), failed, examples,
                        notes if any(notes) else [])


def encode_all(smiles: Sequence[str], encode: Encoder, kekulize: bool, max_nodes: int | None,
               names: dict[str, int], chunk_size: int = 2000, pool=None, policy: dict | None = None) -> EncodedSplit:
    """Encode SMILES in chunks of ``chunk_size`` with ``encode`` (in ``pool`` when given; order preserved).

    ``names`` is the global atom-name table, extended in place with the names met; ``policy`` (the
    chemistry rules of a :class:`~graph_energy.data.policy.MoleculePolicy`) is passed to ``encode``
    when given.
    """
    starts = list(range(0, len(smiles), chunk_size))
    fn = partial(encode, kekulize=kekulize, max_nodes=max_nodes, **({"policy": policy} if policy else {}))
    pieces = [smiles[s:s + chunk_size] for s in starts]
    results = pool.imap(fn, pieces) if pool is not None else map(fn, pieces)
    chunks = []
    every, t0 = max(1, len(starts) // 10), time.perf_counter()  # about ten progress lines per split
    for k, (s, r) in enumerate(zip(starts, results)):
        chunks.append((s, r))
        if len(starts) > 1 and ((k + 1) % every == 0 or k + 1 == len(starts)):
            done = min(s + chunk_size, len(smiles))
            log.info("encoded %d / %d molecules (%.0f %%, %.1f s)", done, len(smiles), 100 * done / len(smiles),
                     time.perf_counter() - t0)
    return _merge(chunks, names)


def derive_spec(name: str, train: EncodedSplit, names: dict[str, int], kekulize: bool,
                max_nodes: int | None) -> MolecularSpec:
    """The vocabulary of an encoded training split.

    Atom classes (element and formal charge) present in ``train``, ordered by decreasing count (ties
    by name) so the common classes get small indices; Kekule bonds if ``kekulize`` else an aromatic
    class too; ``max_nodes`` or, if ``None``, the largest training molecule.
    """
    if len(train.pos) == 0:
        raise ValueError(f"no training molecule of {name!r} could be encoded (drops: {dict(train.failed)}); "
                         "check the SMILES column and the input file")
    table = list(names)
    counts = np.bincount(train.atom_codes, minlength=len(table))
    present = [(table[i], int(c)) for i, c in enumerate(counts) if c > 0]
    atom_types = tuple(n for n, _ in sorted(present, key=lambda t: (-t[1], t[0])))
    largest = int(np.diff(train.atom_ptr).max())
    return MolecularSpec(name=name, atom_types=atom_types, bond_types=KEKULE_BONDS if kekulize else AROMATIC_BONDS,
                         max_nodes=max_nodes if max_nodes is not None else largest, kekulize=kekulize)
