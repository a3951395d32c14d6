"""Templates for constrained generation: scaffold / decorate / link modes, SMARTS, errors; Bemis–Murcko."""

import numpy as np
import pytest

from graph_energy.chem.fragments import murcko_scaffold, parse_template
from graph_energy.data.spec import KEKULE_BONDS, MolecularSpec

SPEC = MolecularSpec("toy", ("C", "O", "N", "F", "N+", "O-"), KEKULE_BONDS, 9)


def test_scaffold_mode_all_atoms_open_and_kekule_bonds():
    t = parse_template("c1ccncc1", SPEC)
    assert t.num_atoms == 6 and t.attach.all() and t.num_fragments == 1 and not t.has_attachment_points
    assert sorted(SPEC.atom_types[c] for c in t.x) == ["C"] * 5 + ["N"]
    iu = np.triu_indices(6, 1)
    assert sorted(t.e[iu][t.e[iu] > 0].tolist()) == [1, 1, 1, 2, 2, 2]    # alternating single/double
    assert t.contained_in("Cc1ccncc1") and t.contained_in("c1ccncc1") and not t.contained_in("Cc1ccccc1")
    assert not t.contained_in(None) and not t.contained_in("C1CC(")


def test_decorate_mode_opens_only_the_attachment_atoms():
    t = parse_template("[*]c1ccncc1", SPEC)
    assert t.num_atoms == 6 and t.attach.sum() == 1 and t.has_attachment_points
    assert SPEC.atom_types[t.x[t.attach][0]] == "C" and t.smiles == "c1ccncc1"
    two = parse_template("[*:1]C(=O)N[*:2]", SPEC)
    assert [SPEC.atom_types[c] for c in two.x[two.attach]] == ["C", "N"]


def test_link_mode_from_a_list_or_a_dotted_string():
    a = parse_template(["[*]C1CC1", "[*]C(=O)O"], SPEC)
    b = parse_template("[*]C1CC1.[*]C(=O)O", SPEC)
    assert a.num_fragments == b.num_fragments == 2 and np.array_equal(a.x, b.x) and np.array_equal(a.attach, b.attach)
    assert a.attach.sum() == 2 and a.contained_in("O=C(O)CCC1CC1")


def test_smarts_with_plain_atoms():
    t = parse_template("[#6]1:[#6]:[#7]:[#6]:[#6]:[#6]:1", SPEC)
    assert t.smiles == "c1ccncc1" and t.contained_in("Cc1ccncc1")
    assert parse_template("[#7+](=O)[O-]", SPEC).num_atoms == 3


@pytest.mark.parametrize("text, words", [
    ("C1C", "neither valid SMILES nor SMARTS"),
    ("[C,N]C", "SMARTS atom [C,N] is a query"),
    ("C~N", "SMARTS bond ~ is a query"),
    ("CCBr", "atom Br is outside the model's vocabulary"),
    ("C1CCCCC1CCCC", "more than the model's max_nodes=9"),
    ("[*][*]", "no atoms besides attachment points"),
    ("", "scaffold must be a SMILES/SMARTS string"),
    (["CC", ""], "fragments must be non-empty"),
])
def test_bad_templates_name_the_problem(text, words):
    with pytest.raises(ValueError, match=None) as err:
        parse_template(text, SPEC)
    assert words in str(err.value)


def test_murcko_scaffold():
    assert murcko_scaffold("OC1CC1C#N") == "C1CC1"
    assert murcko_scaffold("CCO") == "" and murcko_scaffold("C1CC(") is None
