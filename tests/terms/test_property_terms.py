"""Exact properties against direct RDKit calls, and the errors for names RDKit cannot use."""

import pytest
from rdkit import Chem
from rdkit.Chem import QED as RDQED
from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

from graph_energy.terms import ElementCount, SubstructureCount, property_by_name

MOLS = ["CCO", "c1ccncc1", "NNC(=O)C1CC1", "OC1C2CC1C2", "FC(F)(F)C#N"]


@pytest.mark.parametrize("smiles", MOLS)
def test_properties_match_rdkit(smiles):
    mol = Chem.MolFromSmiles(smiles)
    expect = {"logp": Crippen.MolLogP(mol), "qed": RDQED.qed(mol), "mw": Descriptors.MolWt(mol),
              "tpsa": rdMolDescriptors.CalcTPSA(mol), "rings": rdMolDescriptors.CalcNumRings(mol),
              "heavy_atoms": mol.GetNumHeavyAtoms()}
    for name, want in expect.items():
        assert property_by_name(name)(mol) == pytest.approx(want, abs=1e-12), name
    assert 1.0 <= property_by_name("sa")(mol) <= 10.0


def test_counts():
    mol = Chem.MolFromSmiles("NNC(=O)C1CC1")
    assert property_by_name("count_N")(mol) == 2
    assert ElementCount("O")(mol) == 1
    assert ElementCount("H")(mol) == 3 + 5  # NH2, NH, 5 ring/CH hydrogens
    assert property_by_name("smarts:[#7]~[#7]")(mol) == 1
    assert SubstructureCount("[#7]~[#7]")(Chem.MolFromSmiles("CCO")) == 0
    assert property_by_name("rings").key == "rings" and property_by_name("Ring_Count").key == "rings"


@pytest.mark.parametrize("name,msg", [
    ("boilingpoint", "unknown property 'boilingpoint'; known: logp, qed, sa, mw, tpsa, rings, heavy_atoms"),
    ("count_Xx", "unknown element symbol 'Xx'"),
    ("smarts:[C", "RDKit cannot parse the SMARTS '[C'"),
    ("", "a property name must be a string"),
])
def test_property_errors(name, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace("[", r"\[")):
        property_by_name(name)


def test_substructure_survives_deepcopy():
    import copy

    p = copy.deepcopy(SubstructureCount("[#7]~[#7]"))
    assert p(Chem.MolFromSmiles("CNN")) == 1
