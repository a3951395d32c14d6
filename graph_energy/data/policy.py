"""What becomes a training graph: the vocabulary and size policy of a dataset, stated, applied and counted.

A :class:`MoleculePolicy` says which elements are allowed, what happens to salts and mixtures
(several fragments), isotope labels and explicit hydrogen atoms, and how the size limit is chosen
(a bound, ``max_nodes``, or a quantile of the training sizes, ``max_nodes_quantile``). Every row a
rule drops is counted under the rule's reason; every row a rule changes is counted as a
modification; nothing is dropped or changed silently.

The chemistry rules (fragments, isotopes, hydrogens) run inside the encoder
(:func:`graph_energy.chem.encode.encode_smiles`); the element and size rules run here, on encoded
molecules, before the vocabulary and ``max_nodes`` are derived from the training split, so a
disallowed element never enters the vocabulary and a dropped giant never sets ``max_nodes``.

Drop reasons: ``element``, ``fragments``, ``isotope``, ``hydrogen``, ``too_large``, ``encoding``
(a row that is not valid UTF-8). Modifications: ``fragments_stripped``, ``isotopes_stripped``,
``hydrogens_folded``, ``hydrogen_nodes`` (``hydrogens="nodes"``: H atoms kept as graph nodes).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np

from graph_energy.data.encoded import EncodedSplit, select
from graph_energy.data.spec import AtomType

__all__ = ["MoleculePolicy", "ORGANIC_ELEMENTS", "apply_element_rule", "apply_size_rule", "size_limit",
           "lone_giant_warning"]

log = logging.getLogger(__name__)

#: RDKit's organic subset: the default allowed elements for a user's SMILES file.
ORGANIC_ELEMENTS: tuple[str, ...] = ("B", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I")

_CHOICES = {"fragments": ("keep", "largest", "drop"), "isotopes": ("strip", "drop"),
            "hydrogens": ("nodes", "implicit")}


@dataclass(frozen=True)
class MoleculePolicy:
    """The rules that turn rows of SMILES into training molecules.

    Attributes:
        elements: allowed element symbols (``None``: any); rows with another element are dropped
            (``element``).
        fragments: rows with several fragments (salts, mixtures, solvates): ``keep`` them as one
            disconnected graph, keep only the ``largest`` fragment (most heavy atoms; ties by
            canonical SMILES; counted ``fragments_stripped``), or ``drop`` the row (``fragments``).
        isotopes: ``strip`` the labels (``[13CH4]`` becomes methane; counted ``isotopes_stripped``)
            or ``drop`` the row (``isotope``).
        hydrogens: ``implicit``: explicit hydrogen atoms (``[2H]``, ``[H]`` kept by the parser) are
            folded into their heavy atom (counted ``hydrogens_folded``) and rows with a hydrogen not
            bonded to a heavy atom (``[H][H]``, ``[H+]``) are dropped (``hydrogen``); ``nodes``: the
            libraries' historical rule, RDKit's ``RemoveHs``, with hydrogens it keeps becoming graph
            nodes of class ``H`` (counted ``hydrogen_nodes``).
        max_nodes_quantile: size limit as this quantile of the training sizes (``None``: the bound
            ``max_nodes`` of the dataset, or the largest training molecule); larger molecules of
            every split are dropped (``too_large``).
    """

    elements: tuple[str, ...] | None = None
    fragments: str = "keep"
    isotopes: str = "strip"
    hydrogens: str = "nodes"
    max_nodes_quantile: float | None = None

    def __post_init__(self) -> None:
        for key, choices in _CHOICES.items():
            if getattr(self, key) not in choices:
                raise ValueError(f"dataset policy {key}={getattr(self, key)!r}: use one of {list(choices)}")
        if self.elements is not None:
            if isinstance(self.elements, str) or not all(isinstance(e, str) and e for e in self.elements):
                raise ValueError(f"dataset policy elements must be a list of element symbols such as [C, N, O] "
                                 f"(or null for any), got {self.elements!r}")
            object.__setattr__(self, "elements", tuple(self.elements))
        q = self.max_nodes_quantile
        if q is not None and (isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 < q <= 1.0):
            raise ValueError(f"dataset policy max_nodes_quantile must be in (0, 1] (e.g. 0.999) or null, got {q!r}")

    @classmethod
    def parse(cls, value) -> MoleculePolicy:
        """A policy from ``None`` (the defaults), a mapping of its fields, or a policy."""
        if value is None:
            return cls()
        if isinstance(value, MoleculePolicy):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"a dataset policy is a mapping such as {{elements: [C, N, O]}}, got {type(value).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"unknown dataset policy key(s) {unknown}; keys are {names}")
        return cls(**{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in value.items()})

    def to_dict(self) -> dict:
        out = asdict(self)
        out["elements"] = list(self.elements) if self.elements is not None else None
        return out

    @property
    def chemistry(self) -> dict:
        """The rules the encoder applies (picklable plain values)."""
        return {"fragments": self.fragments, "isotopes": self.isotopes, "hydrogens": self.hydrogens}

    @property
    def is_legacy_chemistry(self) -> bool:
        """The encoder's historical behaviour (what datasets without a policy were processed with)."""
        return self.chemistry == MoleculePolicy().chemistry


def apply_element_rule(enc: EncodedSplit, names: dict[str, int], elements: tuple[str, ...] | None,
                       dropped_elements: Counter) -> EncodedSplit:
    """``enc`` without the molecules that have an element outside ``elements`` (reason ``element``);
    ``dropped_elements`` counts, per disallowed element, the molecules dropped for it."""
    if elements is None or len(enc.pos) == 0:
        return enc
    table = list(names)
    symbols = [AtomType.parse(n).symbol for n in table]
    bad_code = np.asarray([s not in elements for s in symbols] or [False], dtype=bool)
    flat_bad = bad_code[enc.atom_codes] if len(enc.atom_codes) else np.zeros(0, dtype=bool)
    if not flat_bad.any():
        return enc
    graph_of = np.searchsorted(enc.atom_ptr, np.flatnonzero(flat_bad), side="right") - 1
    bad = np.zeros(len(enc.pos), dtype=bool)
    bad[graph_of] = True
    for g in np.flatnonzero(bad):
        codes = enc.atom_codes[enc.atom_ptr[g]:enc.atom_ptr[g + 1]]
        dropped_elements.update({symbols[c] for c in codes if bad_code[c]})
    g = int(np.flatnonzero(bad)[0])
    codes = enc.atom_codes[enc.atom_ptr[g]:enc.atom_ptr[g + 1]]
    example = (f"{enc.smiles[g]!r} has {sorted({symbols[c] for c in codes if bad_code[c]})}; allowed elements "
               f"{list(elements)} (dataset.policy.elements=[...] allows more, null allows any)")
    return select(enc, ~bad, "element", example)


def size_limit(train: EncodedSplit, bound: int | None, quantile: float | None) -> tuple[int | None, str]:
    """``(max_nodes, rule)`` for a training split: the ``quantile`` of its sizes (the smallest size
    with at least that fraction of molecules at or below it) if given, else ``bound`` (``None``: the
    largest molecule, decided later). ``rule`` says which, for the report."""
    sizes = np.diff(train.atom_ptr)
    if quantile is not None and len(sizes):
        limit = int(np.quantile(sizes, quantile, method="inverted_cdf"))
        if bound is not None:
            limit = min(limit, bound)
        return limit, f"quantile {quantile:g} of the training sizes ({limit} heavy atoms)"
    if bound is not None:
        return bound, f"bound max_nodes={bound}"
    return None, "the largest training molecule"


def lone_giant_warning(train: EncodedSplit, source_index: np.ndarray) -> str | None:
    """A warning when a single training molecule alone sets ``max_nodes`` (it is larger than every
    other one): every padded batch and the model's size range grow for one row."""
    sizes = np.diff(train.atom_ptr)
    if len(sizes) < 2:
        return None
    order = np.argsort(sizes, kind="stable")
    top, second = int(sizes[order[-1]]), int(sizes[order[-2]])
    if top == second:
        return None
    g = int(order[-1])
    row = int(source_index[train.pos[g]]) if len(source_index) > train.pos[g] else int(train.pos[g])
    smiles = train.smiles[g]
    shown = smiles if len(smiles) <= 60 else smiles[:57] + "..."
    return (f"one training molecule (row {row}, {shown!r}) has {top} heavy atoms and alone sets max_nodes={top}; "
            f"the next largest has {second} (pair tensors grow {(top / max(second, 1)) ** 2:.1f}x). Set "
            f"dataset.max_nodes={second} to drop it, or dataset.policy.max_nodes_quantile=<q> to drop the largest "
            f"(1-q) of the training molecules")


def apply_size_rule(encoded: dict[str, EncodedSplit], source_index: dict[str, np.ndarray], name: str,
                    max_nodes: int | None, quantile: float | None, warnings: list) -> tuple[int | None, str]:
    """The size limit of a dataset (:func:`size_limit` of ``encoded["train"]``), as ``(max_nodes, rule)``.

    A limit from a ``quantile`` drops the larger molecules of every split here (``too_large``, in
    place in ``encoded``), before the vocabulary is derived; with neither a bound nor a quantile, a
    lone giant (:func:`lone_giant_warning`) is logged and appended to ``warnings``.
    """
    limit, rule = size_limit(encoded["train"], max_nodes, quantile)
    if quantile is not None and limit is not None:
        for split, enc in encoded.items():
            n = np.diff(enc.atom_ptr)
            if (n > limit).any():
                g = int(np.flatnonzero(n > limit)[0])
                encoded[split] = select(enc, n <= limit, "too_large",
                                        f"{enc.smiles[g]!r} ({int(n[g])} heavy atoms > max_nodes {limit}: {rule})")
    elif limit is None:
        warning = lone_giant_warning(encoded["train"], source_index.get("train", np.zeros(0, np.int64)))
        if warning:
            log.warning("dataset %s: %s", name, warning)
            warnings.append(warning)
    return limit, rule
