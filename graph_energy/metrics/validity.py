"""Validity, uniqueness, novelty and VUN on SMILES lists.

Three validity rules (``rule=``):

* ``"strict"``: the whole molecule sanitises (disconnected molecules count as valid and are kept
  whole: this is GDSS's "validity without correction");
* ``"connected"``: the molecule sanitises *and* is a single fragment;
* ``"largest_fragment"``: the molecule sanitises and is represented by its largest fragment (the
  DiGress-family convention, also the reference GEM release's VUN variant).

Every function that takes ``canonical`` expects the output of :func:`valid_canonical`: one entry
per generated sample, the canonical (non-isomeric) SMILES under the rule or ``None`` if invalid.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import partial

from rdkit import Chem

from graph_energy.metrics._util import canonical, parallel_map, parse_smiles

__all__ = ["RULES", "canonical_under_rule", "valid_canonical", "validity", "uniqueness", "novelty",
           "vun", "uniqueness_at_k", "valid_canonical_all", "canonical_set", "fragment_count"]

log = logging.getLogger(__name__)

RULES = ("strict", "connected", "largest_fragment")


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ValueError(f"unknown validity rule {rule!r}; use one of {RULES}")


def fragment_count(mol: Chem.Mol) -> int:
    return len(Chem.GetMolFrags(mol))


def canonical_under_rule(mol: Chem.Mol | None, rule: str = "strict") -> str | None:
    """Canonical SMILES of ``mol`` under a validity rule (module docstring); ``None`` if invalid."""
    _check_rule(rule)
    if mol is None:
        return None
    if rule == "strict":
        return canonical(mol)
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if rule == "connected":
        return canonical(mol) if len(frags) == 1 else None
    # largest fragment by heavy-atom count; ties broken by the canonical SMILES for determinism
    best = max(frags, key=lambda f: (f.GetNumAtoms(), canonical(f) or ""))
    return canonical(best)


def _canon_chunk(smiles: Sequence[str], rule: str) -> list[str | None]:
    return [canonical_under_rule(parse_smiles(s), rule) for s in smiles]


def valid_canonical(smiles: Sequence[str], rule: str = "strict", n_jobs: int | None = None,
                    progress: bool = False) -> list[str | None]:
    """Per-sample canonical SMILES under ``rule`` (``None`` = invalid). Unparsable input is invalid."""
    _check_rule(rule)
    return parallel_map(partial(_canon_chunk, rule=rule), list(smiles), n_jobs=n_jobs, chunk_size=2000,
                        progress=progress, desc=f"parse ({rule})")


def _all_rules_chunk(smiles: Sequence[str]) -> list[tuple[str | None, str | None, str | None]]:
    out = []
    for s in smiles:
        mol = parse_smiles(s)
        strict = canonical_under_rule(mol, "strict")
        if strict is None:
            out.append((None, None, None))
        elif "." not in strict:
            out.append((strict, strict, strict))
        else:
            out.append((strict, None, canonical_under_rule(mol, "largest_fragment")))
    return out


def valid_canonical_all(smiles: Sequence[str], n_jobs: int | None = None,
                        progress: bool = False) -> dict[str, list[str | None]]:
    """:func:`valid_canonical` under every rule at once (each SMILES is parsed once)."""
    rows = parallel_map(_all_rules_chunk, list(smiles), n_jobs=n_jobs, chunk_size=2000, progress=progress,
                        desc="parse")
    return {rule: [r[i] for r in rows] for i, rule in enumerate(RULES)}


def canonical_set(smiles: Sequence[str], n_jobs: int | None = None, progress: bool = False) -> set[str]:
    """Set of canonical SMILES of the parsable entries (e.g. a training set, for novelty)."""
    return {c for c in valid_canonical(smiles, "strict", n_jobs=n_jobs, progress=progress) if c}


def validity(canonical: Sequence[str | None]) -> float:
    """Fraction of samples that are valid (non-``None``)."""
    if len(canonical) == 0:
        raise ValueError("validity of an empty sample list is undefined; pass at least one sample")
    return sum(c is not None for c in canonical) / len(canonical)


def uniqueness(canonical: Sequence[str | None]) -> float:
    """Distinct valid molecules / valid molecules (``nan`` if none is valid)."""
    valid = [c for c in canonical if c is not None]
    return len(set(valid)) / len(valid) if valid else float("nan")


def uniqueness_at_k(canonical: Sequence[str | None], k: int) -> float:
    """MOSES ``unique@k``: distinct molecules among the first ``k`` valid ones (all if fewer)."""
    valid = [c for c in canonical if c is not None]
    if len(valid) < k:
        log.warning("unique@%d requested but only %d valid samples; using all of them", k, len(valid))
    head = valid[:k]
    return len(set(head)) / len(head) if head else float("nan")


def novelty(canonical: Sequence[str | None], train: Iterable[str]) -> float:
    """Distinct valid molecules absent from ``train`` / distinct valid molecules (``nan`` if none)."""
    train = train if isinstance(train, (set, frozenset)) else set(train)
    unique = {c for c in canonical if c is not None}
    return len(unique - train) / len(unique) if unique else float("nan")


def vun(canonical: Sequence[str | None], train: Iterable[str]) -> float:
    """Valid ∧ unique ∧ novel molecules / all samples (duplicates count once)."""
    if len(canonical) == 0:
        raise ValueError("VUN of an empty sample list is undefined; pass at least one sample")
    train = train if isinstance(train, (set, frozenset)) else set(train)
    unique = {c for c in canonical if c is not None}
    return len(unique - train) / len(canonical)
