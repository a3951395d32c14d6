"""Vocabulary-free molecule encoding with a round-trip check (the dataset preprocessing step).

Datasets derive their atom vocabulary from the training split, so molecules are first encoded into
a spec-independent form (:class:`MolTokens`: atom class names and bonds) and verified to decode back
to the same canonical SMILES. Mapping names to class ids happens once the vocabulary is known.

Drop reasons (the ``reason`` of :class:`~graph_energy.chem.convert.ConversionError`):
``empty``, ``encoding`` (the row was not valid UTF-8 in its file), ``invalid_smiles``, ``too_large``,
``radical``, ``kekulize``, ``unknown_bond``, ``roundtrip_invalid`` (the rebuilt graph does not
sanitise), ``roundtrip_mismatch`` (it sanitises to a different canonical SMILES, e.g. atoms whose
hydrogen count is not implied by valence such as ``[SH]``), and the policy rules ``isotope``,
``fragments``, ``hydrogen`` (:mod:`graph_energy.chem.standardize`); the dataset layer adds
``unknown_atom`` (atom class outside the vocabulary) and ``element`` (element not allowed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rdkit import Chem

from graph_energy.chem.convert import ConversionError, assemble_mol, quiet_rdkit, sanitize_with_aromatic_h
from graph_energy.chem.standardize import standardize
from graph_energy.data.encoded import EncodedChunk, derive_spec, encode_all
from graph_energy.data.spec import AROMATIC_BONDS, AtomType, MolecularSpec

__all__ = ["MolTokens", "encode_smiles", "encode_chunk", "spec_from_smiles", "BOND_CODE"]

#: Bond class code used by tokens: the index into ``AROMATIC_BONDS`` (single 1 ... aromatic 4). For a
#: kekulized spec ``KEKULE_BONDS`` shares the codes 0..3, so codes are spec bond ids in both cases.
BOND_CODE: dict = {
    Chem.BondType.SINGLE: 1,
    Chem.BondType.DOUBLE: 2,
    Chem.BondType.TRIPLE: 3,
    Chem.BondType.AROMATIC: 4,
}


@dataclass(frozen=True)
class MolTokens:
    """One molecule in vocabulary-free form.

    Attributes:
        smiles: canonical non-isomeric SMILES of the input molecule (hydrogens implicit).
        atoms: atom class names (``"C"``, ``"N+"``, ``"O-"``) in atom order, length ``n``.
        bonds: ``(m, 3)`` int array of ``(i, j, code)`` with ``i < j`` and ``code`` from :data:`BOND_CODE`.
        notes: modifications the policy made (``"fragments_stripped"``, ``"isotopes_stripped"``, ...).
    """

    smiles: str
    atoms: tuple[str, ...]
    bonds: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def num_nodes(self) -> int:
        return len(self.atoms)


@lru_cache(maxsize=1024)
def _symbol_charge(name: str) -> tuple[str, int]:
    a = AtomType.parse(name)
    return a.symbol, a.charge


@lru_cache(maxsize=1024)
def _atom_name(symbol: str, charge: int) -> str:
    return AtomType(symbol, charge).name


def _tokens_from_mol(mol, kekulize: bool) -> tuple[tuple[str, ...], np.ndarray]:
    # Index-based access: RDKit's Python sequence wrappers of GetAtoms()/GetBonds() cost more than the work.
    if kekulize:
        try:
            Chem.Kekulize(mol, clearAromaticFlags=True)
        except Exception as err:  # noqa: BLE001 - RDKit raises KekulizeException and friends
            raise ConversionError("kekulize", str(err)) from err
    names = []
    for i in range(mol.GetNumAtoms()):
        atom = mol.GetAtomWithIdx(i)
        if atom.GetNumRadicalElectrons():
            raise ConversionError("radical", f"atom {i} ({atom.GetSymbol()}) has radical electrons")
        names.append(_atom_name(atom.GetSymbol(), atom.GetFormalCharge()))
    m = mol.GetNumBonds()
    bonds = np.zeros((m, 3), dtype=np.int64)
    for k in range(m):
        bond = mol.GetBondWithIdx(k)
        code = BOND_CODE.get(bond.GetBondType())
        if code is None:
            raise ConversionError("unknown_bond", f"bond type {bond.GetBondType()} is not single/double/triple/aromatic")
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        bonds[k] = (i, j, code) if i < j else (j, i, code)
    return tuple(names), bonds


def encode_smiles(smiles: str, kekulize: bool, max_nodes: int | None = None, policy: dict | None = None) -> MolTokens:
    """Parse, apply the dataset policy's chemistry rules (``policy``: the ``chemistry`` dict of a
    :class:`~graph_energy.data.policy.MoleculePolicy`; ``None``: the historical behaviour), encode and
    round-trip check one SMILES string.

    Raises :class:`ConversionError` with one of the reasons listed in the module docstring.
    """
    if not isinstance(smiles, str) or not smiles.strip():
        raise ConversionError("empty", f"empty SMILES {smiles!r}")
    if "\ufffd" in smiles:  # the file reader replaced bytes that are not UTF-8
        raise ConversionError("encoding", f"row {smiles[:80]!r} holds bytes that are not UTF-8")
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        raise ConversionError("invalid_smiles", f"RDKit cannot parse {smiles!r}")
    try:
        mol, notes = standardize(mol, policy)
    except ConversionError:
        raise
    except Exception as err:  # noqa: BLE001 - RDKit raises assorted errors on odd molecules
        raise ConversionError("invalid_smiles", f"{smiles!r} cannot be standardised ({type(err).__name__})") from err
    n = mol.GetNumAtoms()
    if n == 0:
        raise ConversionError("empty", f"{smiles!r} has no heavy atoms")
    if max_nodes is not None and n > max_nodes:
        raise ConversionError("too_large", f"{n} heavy atoms > max_nodes {max_nodes}")
    canon = Chem.MolToSmiles(mol, isomericSmiles=False)
    atoms, bonds = _tokens_from_mol(Chem.Mol(mol), kekulize)
    rebuilt = sanitize_with_aromatic_h(
        assemble_mol([_symbol_charge(a) for a in atoms],
                     ((i, j, AROMATIC_BONDS[c]) for i, j, c in bonds.tolist())),
        aromatic=not kekulize)
    if rebuilt is None:
        raise ConversionError("roundtrip_invalid", f"{canon!r} does not sanitise after graph round trip")
    back = Chem.MolToSmiles(rebuilt, isomericSmiles=False)
    if back != canon:
        raise ConversionError("roundtrip_mismatch", f"{canon!r} came back as {back!r}")
    return MolTokens(canon, atoms, bonds, notes)


def encode_chunk(smiles: Sequence[str], kekulize: bool, max_nodes: int | None = None,
                 policy: dict | None = None) -> EncodedChunk:
    """Encode a list of SMILES: the dataset builder's default encoder (a picklable worker function;
    the contract is :class:`~graph_energy.data.encoded.EncodedChunk`)."""
    ok, out_smiles, codes, bond_list, notes = [], [], [], [], []
    atom_ptr, bond_ptr = [0], [0]
    names: dict[str, int] = {}
    failed: dict[int, str] = {}
    examples: dict[str, str] = {}
    for pos, s in enumerate(smiles):
        try:
            tok = encode_smiles(s, kekulize, max_nodes, policy)
        except ConversionError as err:
            failed[pos] = err.reason
            examples.setdefault(err.reason, f"{s!r}: {err}")
            continue
        ok.append(pos)
        out_smiles.append(tok.smiles)
        notes.append(tok.notes)
        codes.extend(names.setdefault(a, len(names)) for a in tok.atoms)
        bond_list.append(tok.bonds)
        atom_ptr.append(len(codes))
        bond_ptr.append(bond_ptr[-1] + len(tok.bonds))
    bonds = np.concatenate(bond_list).astype(np.int16) if bond_list else np.zeros((0, 3), np.int16)
    return EncodedChunk(np.asarray(ok, dtype=np.int64), out_smiles, list(names), np.asarray(codes, dtype=np.int16),
                        np.asarray(atom_ptr, dtype=np.int64), bonds.reshape(-1, 3),
                        np.asarray(bond_ptr, dtype=np.int64), failed, examples, notes if any(notes) else None)


def spec_from_smiles(smiles: Sequence[str], name: str, kekulize: bool = True, max_nodes: int | None = None,
                     chunk_size: int = 2000, policy=None) -> MolecularSpec:
    """The vocabulary a dataset with these training SMILES gets (same encoding, checks, policy rules and
    ordering as :func:`graph_energy.data.load_dataset`): atom classes by decreasing count, ties by name;
    molecules that fail to encode, break a rule of ``policy`` (a
    :class:`~graph_energy.data.policy.MoleculePolicy` or its dict; ``None``: the historical rules) or
    exceed ``max_nodes`` do not count."""
    from collections import Counter

    from graph_energy.data.policy import MoleculePolicy, apply_element_rule, apply_size_rule

    policy = MoleculePolicy.parse(policy)
    names: dict[str, int] = {}
    chemistry = None if policy.is_legacy_chemistry else policy.chemistry
    train = encode_all(list(smiles), encode_chunk, kekulize, max_nodes, names, chunk_size, policy=chemistry)
    encoded = {"train": apply_element_rule(train, names, policy.elements, Counter())}
    limit, _ = apply_size_rule(encoded, {}, name, max_nodes, policy.max_nodes_quantile, [])
    return derive_spec(name, encoded["train"], names, kekulize, limit)
