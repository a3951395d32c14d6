"""Fixed substructures for constrained generation: a scaffold or fragments given as SMILES or SMARTS.

A :class:`Template` holds the fixed atoms and bonds as class labels under a spec (Kekulé bonds for a
kekulized spec) and which atoms may bond to the free part:

* no attachment points (``"c1ccncc1"``): *scaffold* mode, any fixed atom may gain bonds to free atoms;
* attachment points ``[*]`` (``"[*]c1ccncc1"``): *decorate* mode, the ``*`` atoms are not part of the
  template and only their neighbours may bond to free atoms;
* several fragments (``"[*]c1ccccc1.[*]C(=O)O"`` or a list): *link* mode, the free atoms form the
  linker (the sampler adds a connectivity term so the result is one molecule).

SMARTS is accepted when every atom is a plain element (``[#6]``, ``C``, ``[N+]``) or ``*`` and every
bond is single, double, triple or aromatic; other queries cannot be fixed coordinates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from graph_energy.chem.convert import quiet_rdkit
from graph_energy.data.spec import AtomType, MolecularSpec

__all__ = ["Template", "parse_template", "murcko_scaffold", "has_substructure"]

_BONDS = {Chem.BondType.SINGLE: "single", Chem.BondType.DOUBLE: "double", Chem.BondType.TRIPLE: "triple",
          Chem.BondType.AROMATIC: "aromatic"}


@dataclass(frozen=True)
class Template:
    """A fixed substructure under a spec.

    Attributes:
        text: the substructure as given.
        x: ``(k,)`` atom classes; e: ``(k, k)`` bond classes (symmetric, 0 = no bond).
        attach: ``(k,)`` bool, atoms that may bond to free atoms.
        num_fragments: connected pieces of the template (2+ = link mode).
        query: the template as an RDKit molecule (aromatic, no ``*`` atoms), for substructure checks.
    """

    text: str
    x: np.ndarray
    e: np.ndarray
    attach: np.ndarray
    num_fragments: int
    query: Chem.Mol

    @property
    def num_atoms(self) -> int:
        return int(self.x.shape[0])

    @property
    def has_attachment_points(self) -> bool:
        return not bool(self.attach.all())

    @property
    def smiles(self) -> str:
        return Chem.MolToSmiles(self.query, isomericSmiles=False)

    def contained_in(self, smiles: str | None) -> bool:
        """Whether molecule ``smiles`` contains the template (substructure match; ``False`` if invalid)."""
        return has_substructure(smiles, self.query)


def _kekule(mol):
    m = Chem.Mol(mol)
    try:
        Chem.Kekulize(m, clearAromaticFlags=True)
    except Exception:  # noqa: BLE001
        return None
    return m


def has_substructure(smiles: str | None, query: Chem.Mol) -> bool:
    """RDKit substructure match of ``query`` in ``smiles`` (``False`` for ``None``/unparsable).

    Matched on the aromatic forms, and failing that on the Kekulé forms: atoms around a fixed ring
    can make RDKit perceive a bond of the fixed part as aromatic (a fused aromatic ring) although the
    molecule's graph holds the fixed part exactly.
    """
    if not smiles:
        return False
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return False
        if mol.HasSubstructMatch(query):
            return True
        km, kq = _kekule(mol), _kekule(query)
        return km is not None and kq is not None and km.HasSubstructMatch(kq)


def _from_smarts(text: str):
    q = Chem.MolFromSmarts(text)
    if q is None:
        raise ValueError(f"scaffold {text!r} is neither valid SMILES nor SMARTS; check the string")
    for a in q.GetAtoms():
        if a.GetAtomicNum() == 0 and a.GetSmarts().split(":")[0].strip("[]") != "*":
            raise ValueError(f"scaffold {text!r}: SMARTS atom {a.GetSmarts()} is a query, not one element; "
                             "fixed atoms must be plain elements (e.g. [#6], [N+]) or * for an attachment point")
    for b in q.GetBonds():
        if b.GetBondType() not in _BONDS:
            raise ValueError(f"scaffold {text!r}: SMARTS bond {b.GetSmarts() or '~'} is a query; fixed bonds must be "
                             "single, double, triple or aromatic")
    mol = Chem.RWMol()
    for a in q.GetAtoms():  # plain atoms with implicit hydrogens (SMARTS atoms carry none)
        atom = Chem.Atom(a.GetAtomicNum())
        atom.SetFormalCharge(a.GetFormalCharge())
        atom.SetIsAromatic(a.GetIsAromatic() or any(b.GetBondType() == Chem.BondType.AROMATIC for b in a.GetBonds()))
        mol.AddAtom(atom)
    for b in q.GetBonds():
        mol.AddBond(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), b.GetBondType())
        mol.GetBondWithIdx(mol.GetNumBonds() - 1).SetIsAromatic(b.GetBondType() == Chem.BondType.AROMATIC)
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # noqa: BLE001
        raise ValueError(f"scaffold {text!r}: the SMARTS does not describe a valid molecule fragment") from None
    return mol.GetMol()


_SMARTS_ONLY = re.compile(r"\[[^\]]*(#\d|[,;&!])|~")


def _parse(text: str):
    """SMILES unless the string uses SMARTS-only syntax (``[#6]``, ``~``, ``,``/``;``/``&``/``!`` in brackets)."""
    with quiet_rdkit():
        mol = None if _SMARTS_ONLY.search(text) else Chem.MolFromSmiles(text)
        return mol if mol is not None else _from_smarts(text)


def _plain_query(mol: Chem.RWMol) -> Chem.Mol:
    """The fixed atoms as an ordinary sanitised molecule: hydrogens implied by valence (a fixed atom may
    gain bonds to free atoms, so its given hydrogen count is no constraint) and aromaticity perceived."""
    for atom in mol.GetAtoms():
        atom.SetNumRadicalElectrons(0)
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    query = mol.GetMol()
    with quiet_rdkit():
        Chem.SanitizeMol(query, catchErrors=True)
    return query


def parse_template(scaffold: str | Sequence[str], spec: MolecularSpec) -> Template:
    """The :class:`Template` of a SMILES/SMARTS substructure (or a list of fragments, joined with ``.``).

    Raises ``ValueError`` naming the problem: unparsable, an element or charge outside the vocabulary,
    more atoms than ``spec.max_nodes``, a bond the spec lacks, or a ring RDKit cannot kekulize.
    """
    if isinstance(scaffold, (list, tuple)):
        if not scaffold or not all(isinstance(s, str) and s.strip() for s in scaffold):
            raise ValueError(f"fragments must be non-empty SMILES strings, got {scaffold!r}")
        text = ".".join(s.strip() for s in scaffold)
    elif isinstance(scaffold, str) and scaffold.strip():
        text = scaffold.strip()
    else:
        raise ValueError(f"scaffold must be a SMILES/SMARTS string or a list of fragments, got {scaffold!r}")
    mol = Chem.RWMol(_parse(text))
    if spec.kekulize:
        try:
            Chem.Kekulize(mol, clearAromaticFlags=True)
        except Exception:  # noqa: BLE001 - RDKit raises KekulizeException and friends
            raise ValueError(f"scaffold {text!r} cannot be kekulized (the model stores Kekulé bonds); "
                             "write the ring with explicit single/double bonds") from None
    dummies = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    keep = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() != 0]
    if not keep:
        raise ValueError(f"scaffold {text!r} has no atoms besides attachment points")
    if len(keep) > spec.max_nodes:
        raise ValueError(f"scaffold {text!r} has {len(keep)} atoms, more than the model's max_nodes={spec.max_nodes}")
    pos = {old: new for new, old in enumerate(keep)}
    x = np.zeros(len(keep), dtype=np.int64)
    bad = []
    for old in keep:
        atom = mol.GetAtomWithIdx(old)
        name = AtomType(atom.GetSymbol(), atom.GetFormalCharge()).name
        if name not in spec.atom_types:
            bad.append(name)
        else:
            x[pos[old]] = spec.atom_types.index(name)
    if bad:
        raise ValueError(f"scaffold {text!r}: atom {', '.join(dict.fromkeys(bad))} is outside the model's vocabulary "
                         f"({', '.join(spec.atom_types)})")
    e = np.zeros((len(keep), len(keep)), dtype=np.int64)
    attach = np.zeros(len(keep), dtype=bool) if dummies else np.ones(len(keep), dtype=bool)
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        if i in pos and j in pos:
            name = _BONDS.get(b.GetBondType())
            if name not in spec.bond_types:
                raise ValueError(f"scaffold {text!r}: bond {b.GetBondType()} is not in the model's bonds {spec.bond_types}")
            e[pos[i], pos[j]] = e[pos[j], pos[i]] = spec.bond_types.index(name)
        elif i in pos or j in pos:  # a bond to an attachment point marks the fixed atom as open
            attach[pos[i] if i in pos else pos[j]] = True
    for d in sorted(dummies, reverse=True):
        mol.RemoveAtom(d)
    query = _plain_query(mol)
    frags = len(Chem.GetMolFrags(query))
    return Template(text, x, e, attach, frags, query)


def murcko_scaffold(smiles: str) -> str | None:
    """Bemis–Murcko scaffold SMILES of a molecule (``""`` for acyclic ones, ``None`` if unparsable)."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    return Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(mol), isomericSmiles=False)
