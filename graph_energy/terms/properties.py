"""Exact molecular properties of a decoded molecule, one class per kind (RDKit, non-differentiable).

A :class:`Property` maps a sanitised RDKit molecule to one float. Every property has a short
:attr:`~Property.key` that names it in caches, configs and messages (``logp``, ``qed``, ``sa``,
``mw``, ``tpsa``, ``rings``, ``heavy_atoms``, ``count_N``, ``smarts:[#7]~[#7]``), and
:func:`property_by_name` builds one from such a name (unknown names raise a ``ValueError`` listing
the known ones).
"""

from __future__ import annotations

from graph_energy.config import Configurable

__all__ = ["Property", "LogP", "QED", "SAScore", "MolWeight", "TPSA", "RingCount", "HeavyAtomCount",
           "ElementCount", "SubstructureCount", "PROPERTY_NAMES", "property_by_name"]


class Property(Configurable):
    """One scalar property of a molecule.

    Subclasses set :attr:`key` (or override it as a property) and implement :meth:`compute`.
    ``compute`` sees a sanitised molecule (implicit hydrogens); a property that RDKit cannot compute
    for it raises, and the calling term treats the molecule as invalid.
    """

    key: str = "property"

    def compute(self, mol) -> float:
        raise NotImplementedError

    def __call__(self, mol) -> float:
        return float(self.compute(mol))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"


class LogP(Property):
    """Wildman–Crippen logP."""

    key = "logp"

    def compute(self, mol) -> float:
        from graph_energy.chem.properties import logp

        return logp(mol)


class QED(Property):
    """Quantitative estimate of drug-likeness, in [0, 1]."""

    key = "qed"

    def compute(self, mol) -> float:
        from graph_energy.chem.properties import qed

        return qed(mol)


class SAScore(Property):
    """Synthetic accessibility score, 1 (easy) … 10 (hard)."""

    key = "sa"

    def compute(self, mol) -> float:
        from graph_energy.chem.properties import sa_score

        return sa_score(mol)


class MolWeight(Property):
    """Average molecular weight in g/mol (implicit hydrogens included)."""

    key = "mw"

    def compute(self, mol) -> float:
        from graph_energy.chem.properties import mol_weight

        return mol_weight(mol)


class TPSA(Property):
    """Topological polar surface area (Ertl 2000), in Å²."""

    key = "tpsa"

    def compute(self, mol) -> float:
        from rdkit.Chem import rdMolDescriptors

        return rdMolDescriptors.CalcTPSA(mol)


class RingCount(Property):
    """Number of rings of the smallest set of smallest rings."""

    key = "rings"

    def compute(self, mol) -> float:
        from rdkit.Chem import rdMolDescriptors

        return rdMolDescriptors.CalcNumRings(mol)


class HeavyAtomCount(Property):
    """Number of heavy (non-hydrogen) atoms."""

    key = "heavy_atoms"

    def compute(self, mol) -> float:
        return mol.GetNumHeavyAtoms()


class ElementCount(Property):
    """Number of atoms of one element (any formal charge); ``H`` counts implicit hydrogens too.

    Args:
        symbol: element symbol, e.g. ``"N"``.
    """

    def __init__(self, symbol: str) -> None:
        from rdkit import Chem

        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f"ElementCount needs an element symbol such as 'N', got {symbol!r}")
        try:
            self.atomic_number = Chem.GetPeriodicTable().GetAtomicNumber(symbol)
        except RuntimeError:
            self.atomic_number = 0
        if self.atomic_number < 1:
            raise ValueError(f"unknown element symbol {symbol!r}; use a symbol such as 'C', 'N', 'O', 'F'")
        self.symbol = symbol

    @property
    def key(self) -> str:  # type: ignore[override]
        return f"count_{self.symbol}"

    def compute(self, mol) -> float:
        if self.atomic_number == 1:
            return sum(a.GetTotalNumHs() for a in mol.GetAtoms())
        return sum(1 for a in mol.GetAtoms() if a.GetAtomicNum() == self.atomic_number)


class SubstructureCount(Property):
    """Number of (unique) matches of a SMARTS pattern: ``0`` = absent.

    "Must appear" is a lower bound of 1 on this count, "must not appear" an upper bound of 0.

    Args:
        smarts: the pattern, e.g. ``"[#7]~[#7]"`` (any N–N bond) or ``"c1ccccc1"``.
    """

    def __init__(self, smarts: str) -> None:
        from rdkit import Chem

        from graph_energy.chem.convert import quiet_rdkit

        if not isinstance(smarts, str) or not smarts.strip():
            raise ValueError(f"SubstructureCount needs a SMARTS pattern such as '[#7]~[#7]', got {smarts!r}")
        with quiet_rdkit():
            self.pattern = Chem.MolFromSmarts(smarts)
        if self.pattern is None:
            raise ValueError(f"RDKit cannot parse the SMARTS {smarts!r}; check the pattern")
        self.smarts = smarts

    @property
    def key(self) -> str:  # type: ignore[override]
        return f"smarts:{self.smarts}"

    def compute(self, mol) -> float:
        return len(mol.GetSubstructMatches(self.pattern, uniquify=True, maxMatches=1000))

    def __getstate__(self) -> dict:  # RDKit query molecules do not pickle
        state = dict(self.__dict__)
        state.pop("pattern", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        from rdkit import Chem

        self.pattern = Chem.MolFromSmarts(self.smarts)

    def __deepcopy__(self, memo):
        return SubstructureCount(self.smarts)


_SIMPLE = {"logp": LogP, "qed": QED, "sa": SAScore, "mw": MolWeight, "tpsa": TPSA, "rings": RingCount,
           "heavy_atoms": HeavyAtomCount}
_ALIASES = {"sa_score": "sa", "molwt": "mw", "mol_weight": "mw", "weight": "mw", "ring_count": "rings",
            "num_rings": "rings", "heavy_atom_count": "heavy_atoms", "num_atoms": "heavy_atoms"}
#: The names :func:`property_by_name` understands (plus ``count_<element>`` and ``smarts:<pattern>``).
PROPERTY_NAMES = (*_SIMPLE, "count_<element>", "smarts:<pattern>")


def property_by_name(name: str | Property) -> Property:
    """The :class:`Property` called ``name`` (case-insensitive for the simple ones).

    ``count_N`` counts nitrogens, ``smarts:[#7]~[#7]`` counts the matches of a pattern; a
    :class:`Property` passes through.
    """
    if isinstance(name, Property):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a property name must be a string such as 'logp', got {name!r}; known: "
                         f"{', '.join(PROPERTY_NAMES)}")
    text = name.strip()
    if text.lower().startswith("smarts:"):
        return SubstructureCount(text.split(":", 1)[1])
    if text.lower().startswith("count_"):
        return ElementCount(text.split("_", 1)[1])
    key = _ALIASES.get(text.lower(), text.lower())
    if key not in _SIMPLE:
        raise ValueError(f"unknown property {name!r}; known: {', '.join(PROPERTY_NAMES)}")
    return _SIMPLE[key]()
