"""Frozen molecular facts of a dataset: atom and bond vocabularies, size limit, valences.

A :class:`MolecularSpec` is plain data: it is saved as JSON, travels in checkpoints, and is the only
way dataset facts reach models, samplers and metrics (never a dataset-name string).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["AtomType", "MolecularSpec", "AROMATIC_BONDS", "KEKULE_BONDS", "BOND_ORDERS"]

AROMATIC_BONDS: tuple[str, ...] = ("none", "single", "double", "triple", "aromatic")
KEKULE_BONDS: tuple[str, ...] = ("none", "single", "double", "triple")
BOND_ORDERS: dict[str, float] = {"none": 0.0, "single": 1.0, "double": 2.0, "triple": 3.0, "aromatic": 1.5}


@dataclass(frozen=True, order=True)
class AtomType:
    """An atom class: element symbol plus formal charge (``N+`` is ``AtomType("N", 1)``)."""

    symbol: str
    charge: int = 0

    @property
    def name(self) -> str:
        if self.charge == 0:
            return self.symbol
        sign = "+" if self.charge > 0 else "-"
        mag = abs(self.charge)
        return f"{self.symbol}{sign}{mag if mag > 1 else ''}"

    @classmethod
    def parse(cls, name: str) -> AtomType:
        """Inverse of :attr:`name`: ``"C"``, ``"N+"``, ``"O-"``, ``"Fe+2"``."""
        for i, ch in enumerate(name):
            if ch in "+-":
                sym, sign, mag = name[:i], ch, name[i + 1:]
                q = int(mag) if mag else 1
                return cls(sym, q if sign == "+" else -q)
        return cls(name, 0)


def _max_valence(symbol: str, charge: int) -> int:
    """Largest allowed valence of an element under a formal charge.

    Uses RDKit's isoelectronic rule: a charged atom takes the valence list of the element with
    atomic number ``Z - charge`` (``N+`` like C: 4, ``O-`` like F: 1, ``C-`` like N: 3).
    """
    from rdkit import Chem

    pt = Chem.GetPeriodicTable()
    z = pt.GetAtomicNumber(symbol) - charge
    vals = [v for v in pt.GetValenceList(max(z, 1)) if v >= 0] if z >= 1 else [0]
    return max(vals) if vals else 0


@dataclass(frozen=True)
class MolecularSpec:
    """Vocabulary and facts of one molecular dataset.

    Attributes:
        name: dataset name (informational only; code never branches on it).
        atom_types: atom class names in class-index order, e.g. ``("C", "N", "O", "F", "N+", "O-")``.
        bond_types: bond class names in class-index order; index 0 is always ``"none"``.
        max_nodes: largest number of heavy atoms a graph may have.
        kekulize: whether aromatic bonds are stored as alternating single/double bonds.
    """

    name: str
    atom_types: tuple[str, ...]
    bond_types: tuple[str, ...]
    max_nodes: int
    kekulize: bool = True
    version: int = field(default=1)

    def __post_init__(self) -> None:
        if not self.atom_types:
            raise ValueError("MolecularSpec.atom_types is empty: derive it from molecules with "
                             "graph_energy.chem.spec_from_smiles (or load a dataset)")
        if len(set(self.atom_types)) != len(self.atom_types):
            raise ValueError(f"duplicate atom types in {self.atom_types}")
        if not self.bond_types or self.bond_types[0] != "none":
            raise ValueError(f"bond_types must start with 'none', got {self.bond_types}")
        unknown = [b for b in self.bond_types if b not in BOND_ORDERS]
        if unknown:
            raise ValueError(f"unknown bond types {unknown}; allowed: {list(BOND_ORDERS)}")
        if self.kekulize and "aromatic" in self.bond_types:
            raise ValueError("a kekulized spec cannot have an 'aromatic' bond type")
        if self.max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1, got {self.max_nodes}")
        object.__setattr__(self, "atom_types", tuple(self.atom_types))
        object.__setattr__(self, "bond_types", tuple(self.bond_types))

    # ------------------------------------------------------------------ facts
    @property
    def num_atom_types(self) -> int:
        return len(self.atom_types)

    @property
    def num_bond_types(self) -> int:
        return len(self.bond_types)

    @property
    def atoms(self) -> tuple[AtomType, ...]:
        return tuple(AtomType.parse(a) for a in self.atom_types)

    @property
    def bond_orders(self) -> tuple[float, ...]:
        """Bond order per bond class (none 0, single 1, double 2, triple 3, aromatic 1.5)."""
        return tuple(BOND_ORDERS[b] for b in self.bond_types)

    @property
    def charges(self) -> tuple[int, ...]:
        return tuple(a.charge for a in self.atoms)

    @property
    def max_valences(self) -> tuple[int, ...]:
        """Largest allowed total bond order per atom class (formal charge taken into account)."""
        return tuple(_max_valence(a.symbol, a.charge) for a in self.atoms)

    def bond_index(self, bond_name: str) -> int:
        try:
            return self.bond_types.index(bond_name)
        except ValueError:
            raise KeyError(f"bond {bond_name!r} is not in the vocabulary {list(self.bond_types)}") from None

    # ------------------------------------------------------------------ plain data
    def to_dict(self) -> dict:
        d = asdict(self)
        d["atom_types"] = list(self.atom_types)
        d["bond_types"] = list(self.bond_types)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MolecularSpec:
        known = {"name", "atom_types", "bond_types", "max_nodes", "kekulize", "version"}
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown MolecularSpec fields {sorted(extra)}; expected {sorted(known)}")
        return cls(**{**d, "atom_types": tuple(d["atom_types"]), "bond_types": tuple(d["bond_types"])})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> MolecularSpec:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read molecular spec {path}: {err}") from err

    def fingerprint(self) -> str:
        """Short stable hash of the spec's content (used to key caches)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
