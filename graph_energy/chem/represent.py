"""Can a model represent this molecule? Per-molecule graphs under a spec, or the reasons why not.

Unlike :func:`~graph_energy.chem.convert.smiles_to_graph` (which stops at the first problem), every
problem of a molecule is collected: an element outside the vocabulary, a charge the vocabulary does
not have for a known element, more heavy atoms than ``spec.max_nodes``, radicals, then (if none of
these) bonds outside the vocabulary, kekulization, and the round trip (the graph must decode back to
the same molecule; atoms whose hydrogen count is not implied by valence, e.g. ``[SH]``, fail it).

Atoms are put in RDKit's canonical order first, so the graph of a molecule (hence its energy) does
not depend on the atom order of the input SMILES.

Reason codes (:attr:`Representation.codes`): ``empty``, ``invalid_smiles``, ``unknown_element``,
``unknown_charge``, ``too_large``, ``radical``, ``unknown_bond``, ``kekulize``, ``roundtrip``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rdkit import Chem

from graph_energy.chem.convert import ConversionError, MolGraph, graph_to_mol, mol_to_graph, quiet_rdkit
from graph_energy.data.spec import AtomType, MolecularSpec

__all__ = ["Representation", "represent", "represent_all", "canonical_order"]


@dataclass(frozen=True)
class Representation:
    """One input molecule under a spec.

    Attributes:
        input: the string given.
        smiles: canonical non-isomeric SMILES (``None`` if unparsable).
        graph: labels ``x (n,)``, ``e (n,n)`` in canonical atom order (``None`` if not representable).
        codes: reason codes (empty when representable); reason: one readable sentence (``""`` if none).
        num_nodes: heavy atoms (0 if unparsable).
    """

    input: str
    smiles: str | None
    graph: MolGraph | None
    codes: tuple[str, ...] = ()
    reason: str = ""
    num_nodes: int = 0

    @property
    def ok(self) -> bool:
        return self.graph is not None


def canonical_order(mol) -> Chem.Mol:
    """``mol`` with its atoms renumbered in canonical-rank order (independent of the input order)."""
    ranks = list(Chem.CanonicalRankAtoms(mol, breakTies=True))
    order = sorted(range(len(ranks)), key=ranks.__getitem__)
    return Chem.RenumberAtoms(mol, order)


def _fail(text, smiles, n, items) -> Representation:
    codes = tuple(dict.fromkeys(c for c, _ in items))
    return Representation(text, smiles, None, codes, "; ".join(m for _, m in items), n)


def _atom_problems(mol, spec: MolecularSpec) -> list[tuple[str, str]]:
    known = {a.symbol for a in spec.atoms}
    vocab = ", ".join(spec.atom_types)
    bad_elements, bad_charges = [], []
    for atom in mol.GetAtoms():
        name = AtomType(atom.GetSymbol(), atom.GetFormalCharge()).name
        if atom.GetSymbol() not in known:
            bad_elements.append(atom.GetSymbol())
        elif name not in spec.atom_types:
            bad_charges.append(name)
    out = []
    if bad_elements:
        els = ", ".join(dict.fromkeys(bad_elements))
        out.append(("unknown_element", f"element {els} is outside the model's vocabulary ({vocab})"))
    if bad_charges:
        names = ", ".join(dict.fromkeys(bad_charges))
        out.append(("unknown_charge", f"charged atom {names} is not in the model's vocabulary ({vocab})"))
    if any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
        out.append(("radical", "it has radical electrons, which the model's graphs cannot represent"))
    return out


def represent(smiles: str, spec: MolecularSpec) -> Representation:
    """The graph of ``smiles`` under ``spec`` in canonical atom order, or every reason it has none."""
    text = smiles if isinstance(smiles, str) else repr(smiles)
    if not isinstance(smiles, str) or not smiles.strip():
        return _fail(text, None, 0, [("empty", "empty entry (no SMILES)")])
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        return _fail(text, None, 0, [("invalid_smiles", "invalid SMILES: RDKit cannot parse it")])
    canon = Chem.MolToSmiles(mol, isomericSmiles=False)
    if mol.GetNumHeavyAtoms() == 0:
        return _fail(text, canon, 0, [("empty", "it has no heavy atoms")])
    if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():
        mol = Chem.RemoveHs(mol)
        canon = Chem.MolToSmiles(mol, isomericSmiles=False)
    n = mol.GetNumAtoms()
    problems = _atom_problems(mol, spec)
    if n > spec.max_nodes:
        problems.append(("too_large", f"{n} heavy atoms, but the model handles at most max_nodes={spec.max_nodes}"))
    if problems:
        return _fail(text, canon, n, problems)
    mol = canonical_order(mol)
    try:
        graph = mol_to_graph(mol, spec)
    except ConversionError as err:
        detail = str(err).split(": ", 1)[-1]
        if err.reason == "unknown_bond":
            detail = f"{detail.split(' not in')[0]} is outside the model's bond vocabulary ({', '.join(spec.bond_types)})"
        elif err.reason == "kekulize":
            detail = "RDKit cannot kekulize it (the model stores Kekulé bonds)"
        return _fail(text, canon, n, [(err.reason, detail)])
    back = graph_to_mol(graph.x, graph.e, spec)
    back_smiles = Chem.MolToSmiles(back, isomericSmiles=False) if back is not None else None
    if back_smiles != canon:
        what = f"decodes to {back_smiles}" if back_smiles else "does not decode to a valid molecule"
        return _fail(text, canon, n, [("roundtrip", f"its graph {what} (hydrogens not implied by valence?)")])
    return Representation(text, canon, graph, (), "", n)


def represent_all(smiles: Sequence[str], spec: MolecularSpec) -> list[Representation]:
    """:func:`represent` for each entry, in order."""
    return [represent(s, spec) for s in smiles]
