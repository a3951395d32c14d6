"""The chemistry rules of a dataset policy: isotopes, fragments (salts, mixtures) and explicit hydrogens.

:func:`standardize` applies the rules of :class:`graph_energy.data.policy.MoleculePolicy` (given as
its plain ``chemistry`` dict) to a parsed molecule and says what it changed; a row a rule refuses
raises :class:`~graph_energy.chem.convert.ConversionError` with the rule's reason. Without a policy
(``None``) the historical behaviour is kept exactly (RDKit's ``RemoveHs``; isotope labels ignored)
and only reported.
"""

from __future__ import annotations

from rdkit import Chem

from graph_energy.chem.convert import ConversionError

__all__ = ["standardize"]


def _heavy(mol) -> int:
    return sum(1 for a in mol.GetAtoms() if a.GetAtomicNum() > 1)


def _isotopes(mol, mode: str, implicit_h: bool, notes: list) -> None:
    labelled = [a for a in mol.GetAtoms() if a.GetIsotope()]
    if not labelled:
        return
    if mode == "drop":
        a = labelled[0]
        raise ConversionError("isotope", f"atom {a.GetIdx()} is [{a.GetIsotope()}{a.GetSymbol()}] (dataset.policy."
                                         "isotopes=strip keeps the molecule without labels)")
    if implicit_h:  # unlabelled, an explicit [2H] becomes an ordinary hydrogen that folds into its atom
        for a in labelled:
            a.SetIsotope(0)
    notes.append("isotopes_stripped")


def _fragments(mol, mode: str, notes: list):
    frags = Chem.GetMolFrags(mol, asMols=True)
    if len(frags) <= 1:
        return mol
    if mode == "keep":
        return mol
    if mode == "drop":
        raise ConversionError("fragments", f"{len(frags)} fragments (a salt or mixture; dataset.policy.fragments="
                                           "largest keeps the largest one)")
    best = max(frags, key=lambda f: (_heavy(f), -len(Chem.MolToSmiles(f)), Chem.MolToSmiles(f)))
    notes.append("fragments_stripped")
    return Chem.Mol(best)


def _hydrogens(mol, mode: str, notes: list):
    hs = [a for a in mol.GetAtoms() if a.GetAtomicNum() == 1]
    if mode == "nodes":
        if hs:
            mol = Chem.RemoveHs(mol)
            left = sum(1 for a in mol.GetAtoms() if a.GetAtomicNum() == 1)
            notes.append("hydrogen_nodes" if left else "hydrogens_folded")
        return mol
    if not hs:
        return mol
    lone = [a for a in hs if not any(n.GetAtomicNum() > 1 for n in a.GetNeighbors())]
    if lone:
        raise ConversionError("hydrogen", f"hydrogen atom {lone[0].GetIdx()} is not bonded to a heavy atom "
                                          "([H][H], [H+], [H-] are not heavy-atom graphs)")
    notes.append("hydrogens_folded")
    return Chem.RemoveAllHs(mol)


def standardize(mol, policy: dict | None) -> tuple[Chem.Mol, tuple[str, ...]]:
    """``(molecule, notes)`` after the chemistry rules of ``policy`` (``None``: the historical rule).

    Order: isotopes, then fragments, then hydrogens (so ``[2H]`` folds and a ``[H][H]`` fragment of a
    mixture goes with the fragment rule). ``notes`` names each modification made.
    """
    notes: list[str] = []
    if policy is None:
        labelled = any(a.GetIsotope() for a in mol.GetAtoms())
        if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():  # explicit hydrogen atoms such as [H]
            mol = _hydrogens(mol, "nodes", notes)
        if labelled:
            notes.append("isotopes_stripped")
        return mol, tuple(notes)
    implicit = policy.get("hydrogens", "nodes") == "implicit"
    _isotopes(mol, policy.get("isotopes", "strip"), implicit, notes)
    mol = _fragments(mol, policy.get("fragments", "keep"), notes)
    mol = _hydrogens(mol, policy.get("hydrogens", "nodes"), notes)
    return mol, tuple(notes)
