"""Scoring molecules with the bundled QM9 model: atom-order invariance, per-row reasons, ranking, the
cached validation reference (on a tiny dataset) and the report's table."""

import csv

import numpy as np
import pytest
from rdkit import Chem

from graph_energy.chem.represent import represent
from graph_energy.scoring import build_reference, reference_for_model, score_smiles

MOLS = ["CCO", "c1ccoc1", "CC(=O)N", "OC1CC1C#N", "CC(C)C1CC1C#N", "C[NH3+]", "CC(=O)[O-]", "O=C1CCC(=O)C(O)C1"]


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(0)
    sizes = np.repeat(np.arange(1, 10), 100)
    return build_reference(rng.normal(1.0 - 0.1 * sizes, 1.0), sizes, max_nodes=9)


def shuffled_smiles(smiles, seed):
    """The same molecule written with its atoms in a random order (non-canonical SMILES)."""
    mol = Chem.MolFromSmiles(smiles)
    order = np.random.default_rng(seed).permutation(mol.GetNumAtoms()).tolist()
    return Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False)


def test_scores_do_not_depend_on_atom_order(qm9, reference):
    base = score_smiles(qm9.model, qm9.spec, MOLS, reference)
    for seed in range(3):
        variants = [shuffled_smiles(s, seed) for s in MOLS]
        assert variants != MOLS
        other = score_smiles(qm9.model, qm9.spec, variants, reference)
        assert np.array_equal(other.energies, base.energies)          # bit-identical: canonical atom order
        assert [r.rank for r in other.rows] == [r.rank for r in base.rows]
    # the raw model energy agrees with the old api method up to float noise of the padding
    np.testing.assert_allclose(base.energies, qm9.score(MOLS), atol=1e-4)


@pytest.mark.parametrize("smiles, codes, words", [
    ("CCBr", ["unknown_element"], "element Br is outside"),
    ("C[SiH2]C", ["unknown_element"], "element Si"),
    ("C[O+](C)C", ["unknown_charge"], "charged atom O+ is not in"),
    ("CCCCCCCCCC", ["too_large"], "10 heavy atoms, but the model handles at most max_nodes=9"),
    ("CCCCCCCCCCBr", ["unknown_element", "too_large"], "element Br"),
    ("C1CC(", ["invalid_smiles"], "invalid SMILES"),
    ("", ["empty"], "empty entry"),
    ("[H][H]", ["empty"], "no heavy atoms"),
    ("C[CH2]", ["radical"], "radical"),
])
def test_each_unrepresentable_row_says_why(qm9, reference, smiles, codes, words):
    rep = score_smiles(qm9.model, qm9.spec, ["CCO", smiles, "CCN"], reference)
    row = rep.rows[1]
    assert row.codes == codes and words in row.reason
    assert np.isnan(row.energy) and row.rank is None and not row.ood and not row.ok
    assert [r.ok for r in rep.rows] == [True, False, True] and sorted(r.rank for r in rep.ranked()) == [1, 2]


def test_ranking_uses_size_normalised_scores(qm9, reference):
    rep = score_smiles(qm9.model, qm9.spec, MOLS, reference)
    ranked = rep.ranked()
    assert [r.rank for r in ranked] == list(range(1, len(MOLS) + 1))
    assert all(a.z <= b.z for a, b in zip(ranked, ranked[1:]))
    for r in rep.rows:
        ref = reference.size(r.num_nodes)
        assert r.z == pytest.approx((r.energy - ref.center) / ref.scale)
        assert r.ood == (r.energy > ref.threshold) and r.reference_median == ref.center


def test_noise_like_graphs_are_flagged(qm9, reference):
    rep = score_smiles(qm9.model, qm9.spec, ["C=C=C=C=C=C=C=C=C", "CC"], reference)
    assert rep.energies[0] > rep.energies[1]


def test_report_table_and_summary(qm9, reference, tmp_path):
    rep = score_smiles(qm9.model, qm9.spec, ["CCO", "CCBr", ""], reference)
    rep.to_csv(tmp_path / "s.csv")
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [r["smiles"] for r in rows] == ["CCO", "CCBr", ""] and rows[1]["codes"] == "unknown_element"
    s = rep.summary()
    assert s["num_molecules"] == 3 and s["representable"] == 1
    assert s["reasons"] == {"empty": 1, "unknown_element": 1}


def test_represent_is_canonical():
    from graph_energy.data.spec import MolecularSpec

    spec = MolecularSpec("toy", ("C", "N", "O"), ("none", "single", "double", "triple"), 9)
    a, b = represent("OCC(N)C", spec), represent("CC(N)CO", spec)
    assert a.ok and np.array_equal(a.graph.x, b.graph.x) and np.array_equal(a.graph.e, b.graph.e)
    assert a.smiles == b.smiles == "CC(N)CO"


def test_reference_is_computed_once_and_cached(tmp_path, monkeypatch, make_tiny_checkpoint):
    import graph_energy as ge
    from graph_energy.scoring import held_out

    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEM_CACHE_DIR", str(tmp_path / "cache"))
    ckpt, ds = make_tiny_checkpoint(tmp_path)
    model = ge.load(ckpt)
    ref = reference_for_model(model.model, model.spec, ds, split="val", min_count=2)
    files = list((tmp_path / "cache" / "scoring").glob("*.json"))
    assert len(files) == 1 and ref.source["num_graphs"] > 0 and ref.split == "val"

    def no_recompute(*a, **k):
        raise AssertionError("the cached reference must be read, not recomputed")

    monkeypatch.setattr(held_out, "held_out_energies", no_recompute)
    again = reference_for_model(model.model, model.spec, ds, split="val", min_count=2)
    assert again.to_dict() == ref.to_dict()
    with pytest.raises(AssertionError):  # other settings: another cache entry
        reference_for_model(model.model, model.spec, ds, split="val", min_count=3)
