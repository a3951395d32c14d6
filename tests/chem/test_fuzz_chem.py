"""Fuzzing the molecule <-> graph converters with Hypothesis (``slow``: 10,000 cases per property by
default; ``GEM_FUZZ_EXAMPLES=<n>`` changes it). No input may crash a converter: a molecule is either
represented (and comes back as the same canonical SMILES) or refused with a ``ConversionError`` that
names one of the documented reasons; a graph is either a molecule or ``None`` (the dense-batch path: ``tests/data/test_fuzz_dense.py``)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem

from graph_energy.chem import (
    ConversionError,
    assemble_mol,
    canonical_smiles,
    encode_smiles,
    graph_to_mol,
    smiles_to_graph,
)
from graph_energy.chem.convert import MolGraph, quiet_rdkit
from graph_energy.data import AtomType, MolecularSpec
from graph_energy.data.spec import AROMATIC_BONDS, KEKULE_BONDS

pytestmark = pytest.mark.slow

FUZZ = int(os.environ.get("GEM_FUZZ_EXAMPLES", "10000"))
fuzz = settings(max_examples=FUZZ, deadline=None, database=None, suppress_health_check=list(HealthCheck))

REASONS = {"empty", "encoding", "invalid_smiles", "too_large", "radical", "kekulize", "unknown_bond",
           "roundtrip_invalid", "roundtrip_mismatch", "isotope", "fragments", "hydrogen", "unknown_atom"}
ATOMS = ("C", "N", "O", "F", "S", "Cl", "P", "Br", "N+", "O-", "C-", "S+", "B", "Si", "Na+")
SPECS = {k: MolecularSpec(name="fuzz", atom_types=ATOMS, bond_types=KEKULE_BONDS if k else AROMATIC_BONDS,
                          max_nodes=12, kekulize=k) for k in (True, False)}
#: every chemistry policy, and None (the historical rules)
POLICIES = st.sampled_from([None] + [{"fragments": f, "isotopes": i, "hydrogens": h} for f in ("keep", "largest", "drop")
                                     for i in ("strip", "drop") for h in ("nodes", "implicit")])
# characters of SMILES plus a few that are not (and the replacement character of undecodable bytes)
ALPHABET = "CNOSPFIBrcnospl()[]=#-+.@/\\%0123456789H*:$~ \ufffd"


def random_molecule(seed: int) -> str | None:
    """SMILES of a random sanitisable molecule (``None`` if the draw does not sanitise): a random tree of
    1-12 atoms with a few ring closures, random bond orders and charges, and sometimes isotope labels,
    explicit hydrogens and a second fragment. Generated from one seed: Hypothesis draws the seed, so
    10,000 cases stay cheap."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 13))
    names = [ATOMS[i] for i in rng.integers(0, len(ATOMS), n)]
    orders = ("single", "single", "double", "triple", "aromatic")
    bonds = {(int(rng.integers(0, i)), i): orders[rng.integers(0, 5)] for i in range(1, n) if rng.random() > 0.1}
    for _ in range(int(rng.integers(0, 3)) if n > 2 else 0):
        i, j = sorted(rng.choice(n, 2, replace=False).tolist())
        bonds.setdefault((i, j), orders[rng.integers(0, 5)])
    mol = assemble_mol([(AtomType.parse(a).symbol, AtomType.parse(a).charge) for a in names],
                       [(i, j, b) for (i, j), b in bonds.items()])
    for _ in range(int(rng.integers(0, 3))):
        atom = mol.GetAtomWithIdx(int(rng.integers(0, n)))
        if rng.random() < 0.5:
            atom.SetIsotope(int(rng.choice([2, 13, 15, 18])))
        else:
            mol.AddBond(atom.GetIdx(), mol.AddAtom(Chem.Atom(1)), Chem.BondType.SINGLE)
    with quiet_rdkit():
        try:
            Chem.SanitizeMol(mol)
            return Chem.MolToSmiles(mol)
        except Exception:  # noqa: BLE001 - RDKit raises assorted sanitisation errors
            return None


SEEDS = st.integers(0, 2 ** 63 - 1)


@fuzz
@given(SEEDS, st.booleans(), POLICIES)
def test_smiles_to_graph_to_smiles(seed, kekulize, policy):
    smiles = random_molecule(seed)
    if smiles is None:
        return
    try:
        tok = encode_smiles(smiles, kekulize, max_nodes=12, policy=policy)
    except ConversionError as err:
        assert err.reason in REASONS
        return
    # what the dataset encoder accepts decodes back to the same molecule under a spec that holds it
    names = set(tok.atoms)
    if not names <= set(ATOMS):
        return
    spec = SPECS[kekulize]
    g = smiles_to_graph(tok.smiles, spec)
    assert (g.e == g.e.T).all() and (np.diag(g.e) == 0).all() and g.num_nodes == tok.num_nodes
    back = graph_to_mol(g.x, g.e, spec)
    assert back is not None and canonical_smiles(back) == tok.smiles


@fuzz
@given(SEEDS, st.booleans(), POLICIES)
def test_any_string_is_encoded_or_refused_with_a_reason(seed, kekulize, policy):
    rng = np.random.default_rng(seed)
    text = "".join(rng.choice(list(ALPHABET), int(rng.integers(0, 31))).tolist())
    try:
        tok = encode_smiles(text, kekulize, max_nodes=20, policy=policy)
    except ConversionError as err:
        assert err.reason in REASONS
    else:  # (not always a fixed point: RDKit re-reads [O-][IH+] as O=[IH])
        assert canonical_smiles(tok.smiles) is not None and 1 <= len(tok.atoms) <= 20


def random_graph(seed: int, spec: MolecularSpec) -> MolGraph:
    """Random labels under ``spec``: 1..max_nodes atoms of any class, each pair bonded with a random
    class with a random density."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, spec.max_nodes + 1))
    x = rng.integers(0, spec.num_atom_types, n)
    upper = np.triu((rng.random((n, n)) < rng.uniform(0.05, 0.5)) * rng.integers(1, spec.num_bond_types, (n, n)), 1)
    return MolGraph(x.astype(np.int64), (upper + upper.T).astype(np.int64))


@fuzz
@given(SEEDS, st.booleans())
def test_random_graphs_decode_to_a_molecule_or_none(seed, kekulize):
    spec = SPECS[kekulize]
    g = random_graph(seed, spec)
    mol = graph_to_mol(g.x, g.e, spec)
    if mol is None:
        return
    smiles = canonical_smiles(mol)
    assert smiles is not None and mol.GetNumAtoms() == g.num_nodes
    if kekulize:  # a decoded Kekulé graph is encoded back to a graph of the same molecule
        # RDKit's sanitisation clean-up may recharge atoms (N(=C)#N becomes C=[N+]=[N-]): the molecule's
        # atom classes are then not all the graph's, so re-encode under a vocabulary that has them
        names = {AtomType(a.GetSymbol(), a.GetFormalCharge()).name for a in mol.GetAtoms()}
        wide = MolecularSpec(name="wide", atom_types=ATOMS + tuple(sorted(names - set(ATOMS))),
                             bond_types=KEKULE_BONDS, max_nodes=spec.max_nodes, kekulize=True)
        try:
            again = smiles_to_graph(smiles, wide)
        except ConversionError as err:  # RDKit re-reads bonds to a metal cation as radicals or dative bonds
            assert err.reason in ("radical", "unknown_bond") and "Na" in smiles, (smiles, err)
        else:
            assert canonical_smiles(graph_to_mol(again.x, again.e, wide)) == smiles
