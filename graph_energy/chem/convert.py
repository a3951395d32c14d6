"""The only bridge between RDKit molecules and graphs (integer labels under a MolecularSpec)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from rdkit import Chem, RDLogger

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.data.spec import AtomType, MolecularSpec

__all__ = [
    "MolGraph",
    "ConversionError",
    "mol_to_graph",
    "graph_to_mol",
    "smiles_to_graph",
    "canonical_smiles",
    "labels_to_mols",
    "dense_to_smiles",
    "graphs_to_labels",
    "quiet_rdkit",
    "assemble_mol",
    "sanitize_with_aromatic_h",
]

_RD_BOND = {
    Chem.BondType.SINGLE: "single",
    Chem.BondType.DOUBLE: "double",
    Chem.BondType.TRIPLE: "triple",
    Chem.BondType.AROMATIC: "aromatic",
}
_TO_RD = {v: k for k, v in _RD_BOND.items()}


class ConversionError(ValueError):
    """A molecule cannot be represented under a spec; ``reason`` is a short machine-readable tag."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class quiet_rdkit:
    """Context manager silencing RDKit's C++ logger (sanitisation noise on invalid samples)."""

    def __enter__(self):
        RDLogger.DisableLog("rdApp.*")
        return self

    def __exit__(self, *exc):
        RDLogger.EnableLog("rdApp.*")
        return False


@dataclass(frozen=True)
class MolGraph:
    """A single molecule as integer labels: ``x (n,)`` atom classes, ``e (n, n)`` bond classes."""

    x: np.ndarray
    e: np.ndarray

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])


def canonical_smiles(mol_or_smiles, isomeric: bool = False) -> str | None:
    """Canonical SMILES (non-isomeric by default, as graph models carry no stereo); ``None`` if invalid."""
    mol = Chem.MolFromSmiles(mol_or_smiles) if isinstance(mol_or_smiles, str) else mol_or_smiles
    if mol is None:
        return None
    try:
        return Chem.MolToSmiles(mol, isomericSmiles=isomeric)
    except Exception:  # noqa: BLE001 - RDKit raises assorted runtime errors on broken molecules
        return None


def mol_to_graph(mol, spec: MolecularSpec) -> MolGraph:
    """Encode an RDKit molecule (implicit hydrogens) as labels under ``spec``.

    Raises :class:`ConversionError` with reason ``too_large``, ``unknown_atom``, ``unknown_bond``,
    ``radical``, ``kekulize`` or ``empty``.
    """
    mol = Chem.Mol(mol)
    if mol.GetNumAtoms() == 0:
        raise ConversionError("empty", "molecule has no heavy atoms")
    if any(a.GetAtomicNum() == 1 for a in mol.GetAtoms()):
        mol = Chem.RemoveHs(mol)
    n = mol.GetNumAtoms()
    if n > spec.max_nodes:
        raise ConversionError("too_large", f"{n} heavy atoms > max_nodes {spec.max_nodes}")
    if spec.kekulize:
        try:
            Chem.Kekulize(mol, clearAromaticFlags=True)
        except Exception as err:  # noqa: BLE001
            raise ConversionError("kekulize", str(err)) from err
    x = np.zeros(n, dtype=np.int64)
    for atom in mol.GetAtoms():
        if atom.GetNumRadicalElectrons():
            raise ConversionError("radical", f"atom {atom.GetIdx()} ({atom.GetSymbol()}) has radical electrons")
        name = AtomType(atom.GetSymbol(), atom.GetFormalCharge()).name
        try:
            x[atom.GetIdx()] = spec.atom_types.index(name)
        except ValueError:
            raise ConversionError("unknown_atom", f"atom {name!r} not in vocabulary {list(spec.atom_types)}") from None
    e = np.zeros((n, n), dtype=np.int64)
    for bond in mol.GetBonds():
        bname = _RD_BOND.get(bond.GetBondType())
        if bname is None or bname not in spec.bond_types:
            raise ConversionError("unknown_bond", f"bond type {bond.GetBondType()} not in {list(spec.bond_types)}")
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        e[i, j] = e[j, i] = spec.bond_types.index(bname)
    return MolGraph(x, e)


def assemble_mol(atoms, bonds) -> Chem.RWMol:
    """Unsanitised molecule from ``atoms`` (sequence of ``(symbol, charge)``) and ``bonds``
    (iterable of ``(i, j, bond_name)``). Shared by decoding and the dataset round-trip check."""
    mol = Chem.RWMol()
    add_atom, add_bond = mol.AddAtom, mol.AddBond
    for symbol, charge in atoms:
        add_atom(_prototype_atom(symbol, int(charge)))  # AddAtom copies the prototype
    for i, j, bname in bonds:
        add_bond(int(i), int(j), _TO_RD[bname])
    return mol


@lru_cache(maxsize=512)
def _prototype_atom(symbol: str, charge: int):
    a = Chem.Atom(symbol)
    a.SetFormalCharge(charge)
    return a


def _build(x: np.ndarray, e: np.ndarray, spec: MolecularSpec) -> Chem.RWMol:
    atoms = spec.atoms
    iu, ju = np.nonzero(np.triu(e, k=1))
    names = spec.bond_types
    return assemble_mol(((atoms[c].symbol, atoms[c].charge) for c in x.tolist()),
                        ((i, j, names[e[i, j]]) for i, j in zip(iu.tolist(), ju.tolist())))


def graph_to_mol(x, e, spec: MolecularSpec, sanitize: bool = True):
    """Decode labels ``x (n,)``, ``e (n,n)`` to an RDKit molecule; ``None`` if it does not sanitise.

    For aromatic specs an aromatic nitrogen that needs a hydrogen (pyrrole-type ``[nH]``) is not
    recorded in the graph; decoding tries adding one explicit H to aromatic N atoms (one at a time,
    then in pairs) before giving up, which is the minimal information needed to kekulize.
    """
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(e, dtype=np.int64)
    mol = _build(x, e, spec)
    if not sanitize:
        return mol.GetMol()
    return sanitize_with_aromatic_h(mol, aromatic=not spec.kekulize)


def sanitize_with_aromatic_h(mol: Chem.RWMol, aromatic: bool):
    """Sanitised copy of ``mol`` or ``None``. If ``aromatic``, retry with one explicit H on aromatic N
    atoms (one at a time, then in pairs, at most 64 tries): pyrrole-type ``[nH]`` is not in the graph."""
    with quiet_rdkit():
        m = _try_sanitize(mol)
        if m is not None or not aromatic:
            return m
        arom_n = [a.GetIdx() for a in mol.GetAtoms()
                  if a.GetSymbol() == "N" and any(b.GetBondType() == Chem.BondType.AROMATIC for b in a.GetBonds())]
        candidates = [(i,) for i in arom_n] + [(i, j) for k, i in enumerate(arom_n) for j in arom_n[k + 1:]]
        for idx in candidates[:64]:
            trial = Chem.RWMol(mol)
            for i in idx:
                trial.GetAtomWithIdx(i).SetNumExplicitHs(1)
            m = _try_sanitize(trial)
            if m is not None:
                return m
    return None


def _try_sanitize(mol: Chem.RWMol):
    m = Chem.Mol(mol)
    try:
        Chem.SanitizeMol(m)
    except Exception:  # noqa: BLE001
        return None
    return m


def smiles_to_graph(smiles: str, spec: MolecularSpec) -> MolGraph:
    """Parse SMILES and encode; :class:`ConversionError` with reason ``invalid_smiles`` if unparsable."""
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ConversionError("invalid_smiles", f"RDKit cannot parse {smiles!r}")
    return mol_to_graph(mol, spec)


def graphs_to_labels(graphs: list[MolGraph], max_nodes: int | None = None) -> GraphLabels:
    """Stack single-molecule labels into a padded :class:`GraphLabels` batch."""
    n = max_nodes or max(g.num_nodes for g in graphs)
    B = len(graphs)
    x = torch.zeros(B, n, dtype=torch.long)
    e = torch.zeros(B, n, n, dtype=torch.long)
    m = torch.zeros(B, n, dtype=torch.bool)
    for b, g in enumerate(graphs):
        k = g.num_nodes
        x[b, :k] = torch.from_numpy(g.x)
        e[b, :k, :k] = torch.from_numpy(g.e)
        m[b, :k] = True
    return GraphLabels(x, e, m)


def labels_to_mols(labels: GraphLabels, spec: MolecularSpec) -> list:
    """Decode each graph of a batch (padding removed); invalid graphs become ``None``."""
    out = []
    x, e, m = labels.x.cpu().numpy(), labels.e.cpu().numpy(), labels.node_mask.cpu().numpy()
    for b in range(x.shape[0]):
        keep = np.nonzero(m[b])[0]
        out.append(graph_to_mol(x[b, keep], e[b][np.ix_(keep, keep)], spec))
    return out


def dense_to_smiles(graph: DenseGraph, spec: MolecularSpec) -> list[str | None]:
    """Canonical SMILES of each graph in a dense batch (``None`` for graphs that do not sanitise)."""
    return [canonical_smiles(m) if m is not None else None for m in labels_to_mols(graph.to_labels(), spec)]
