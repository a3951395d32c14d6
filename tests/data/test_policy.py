"""The data stays honest: what a user's SMILES file may contribute is stated by a policy, and every row a
rule drops or changes is counted (elements, salts, isotopes, explicit hydrogens, size, bytes that are
not UTF-8)."""

from __future__ import annotations

import json
import logging

import pytest

from graph_energy.chem import spec_from_smiles
from graph_energy.chem.encode import encode_smiles
from graph_energy.cli.data import main as gem_data
from graph_energy.data import DatasetConfig, load_dataset
from graph_energy.data.policy import MoleculePolicy

ORGANIC = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCOC", "NCC=O", "CC#N", "OCCO", "CC(C)O", "CCCl"]


def _load(tmp_path, rows, name="m.smi", **options):
    path = tmp_path / name
    path.write_bytes(b"\n".join(r if isinstance(r, bytes) else r.encode() for r in rows) + b"\n")
    return load_dataset("smiles", path=path, split_fractions={"train": 1.0}, root=tmp_path / "cache", workers=1,
                        **options)


def test_user_file_policy_counts_every_rule(tmp_path, caplog):
    rows = ORGANIC + ["CC(=O)[O-].[Na+]", "CC(=O)O.O", "[H][H]", "C[Si](C)(C)C", "[Fe+2]", "[13CH4]", "[2H]C(Cl)Cl",
                      b"CC\xff\xfeO"]
    with caplog.at_level(logging.WARNING):
        data = _load(tmp_path, rows)
    r = data.report
    assert r["dropped"]["train"] == {"element": 2, "encoding": 1, "hydrogen": 1}
    assert r["dropped_elements"] == {"Fe": 1, "Si": 1}
    # the acetate salt and acetic acid hydrate keep their largest fragment; labels stripped; [2H] folded
    assert r["modified_total"] == {"fragments_stripped": 2, "hydrogens_folded": 1, "isotopes_stripped": 2}
    smiles = set(data.train.smiles)
    assert {"CC(=O)[O-]", "C", "ClCCl"} <= smiles and not any("." in s or "H" in s for s in smiles)
    assert set(data.spec.atom_types) == {"C", "O", "N", "Cl", "O-"}  # no Na, Si, Fe, H
    assert len(data.train) == len(rows) - 4
    text = caplog.text
    assert "m.smi: 1 row(s) are not valid UTF-8 (first at data row 18)" in text
    assert "'element': 2" in text and "dropped for elements {'Fe': 1, 'Si': 1}" in text
    assert "CCO" not in text.split("not valid UTF-8")[0]  # the file's content is never logged
    summary = data.summary()
    assert summary["dropped_elements"] == {"Fe": 1, "Si": 1} and summary["policy"]["fragments"] == "largest"


@pytest.mark.parametrize("policy, reason, count", [
    ({"fragments": "drop"}, "fragments", 2),
    ({"isotopes": "drop"}, "isotope", 2),
    ({"elements": None, "fragments": "keep"}, None, 0),
])
def test_policy_choices(tmp_path, policy, reason, count):
    rows = ORGANIC + ["CC(=O)[O-].[Na+]", "CC(=O)O.O", "[13CH4]", "[2H]C(Cl)Cl"]
    base = {"elements": ["C", "N", "O", "Cl"], "fragments": "largest", "isotopes": "strip", "hydrogens": "implicit"}
    data = _load(tmp_path, rows, policy={**base, **policy})
    dropped = data.report["dropped"]["train"]
    assert dropped.get(reason, 0) == count if reason else dropped == {}
    if policy.get("elements", 1) is None:  # any element, salts kept whole: Na+ enters the vocabulary, counted
        assert "Na+" in data.spec.atom_types and any("." in s for s in data.train.smiles)


def test_explicit_hydrogens_as_nodes_are_counted(tmp_path):
    data = _load(tmp_path, ORGANIC + ["[2H]C(Cl)Cl", "[H][H]"],
                 policy={"elements": None, "hydrogens": "nodes", "fragments": "keep"})
    assert "H" in data.spec.atom_types and data.report["modified_total"]["hydrogen_nodes"] == 2


def test_size_rules_bound_quantile_and_the_lone_giant_warning(tmp_path, caplog):
    rows = ORGANIC + ["C" * 60]
    with caplog.at_level(logging.WARNING):
        data = _load(tmp_path, rows)
    assert data.spec.max_nodes == 60 and data.report["max_nodes_rule"] == "the largest training molecule"
    assert "alone sets max_nodes=60; the next largest has 6" in caplog.text
    assert data.report["warnings"] and "dataset.max_nodes=6" in data.report["warnings"][0]
    q = _load(tmp_path, rows, name="q.smi", policy={"max_nodes_quantile": 0.9})
    assert q.spec.max_nodes == 6 and q.report["dropped"]["train"] == {"too_large": 1}
    assert q.report["max_nodes_rule"].startswith("quantile 0.9")
    bound = _load(tmp_path, rows, name="b.smi", max_nodes=5)
    assert bound.spec.max_nodes == 5 and bound.report["dropped"]["train"]["too_large"] == 2
    # the giant's only element never enters the vocabulary when the quantile drops it
    assert spec_from_smiles(ORGANIC + ["S" * 40], "t", policy={"max_nodes_quantile": 0.9}).atom_types.count("S") == 0


def test_library_sources_keep_the_historical_rules_and_cache_keys(tmp_path):
    cfg = DatasetConfig.parse("qm9")
    assert cfg.effective_policy == MoleculePolicy() and "policy" not in cfg.settings([])
    # the historical rules: RemoveHs, isotope labels ignored, salts kept whole
    assert encode_smiles("CC(=O)[O-].[Na+]", True).smiles == "CC(=O)[O-].[Na+]"
    assert encode_smiles("[2H]C", True).atoms == ("H", "C")
    tok = encode_smiles("[13CH4]", True)
    assert tok.smiles == "C" and tok.notes == ("isotopes_stripped",)
    user = DatasetConfig.parse("smiles", path="x.smi")
    assert user.effective_policy.fragments == "largest" and "policy" in user.settings([])


def test_bad_policies_and_paths_name_the_key(tmp_path, capsys):
    for policy, msg in [({"fragments": "some"}, "fragments='some'"), ({"elements": "C"}, "list of element"),
                        ({"max_nodes_quantile": 1.5}, "max_nodes_quantile"), ({"colour": 1}, "colour")]:
        with pytest.raises(ValueError, match=msg):
            DatasetConfig.parse("smiles", path="x.smi", policy=policy)
    folder = tmp_path / "mols.smi"
    folder.mkdir()
    assert gem_data(["dataset=smiles", f"dataset.source.path={folder}"]) == 2
    err = capsys.readouterr().err
    assert "is a directory; pass a file inside it" in err and "does not exist" not in err
    csv_dir = tmp_path / "folder"
    csv_dir.mkdir()
    assert gem_data(["dataset=smiles", f"dataset.source.path={csv_dir}"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_non_utf8_csv_rows_are_counted_not_fatal(tmp_path, capsys):
    p = tmp_path / "m.csv"
    p.write_bytes(b"smiles,split\n" + b"".join(f"{s},train\n".encode() for s in ORGANIC) + b"C\xffO,train\nCC,val\n")
    assert gem_data(["dataset=smiles", f"dataset.source.path={p}", "dataset.source.split_column=split",
                     f"dataset.root={tmp_path / 'c'}", "dataset.workers=1", "log_level=ERROR"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dropped"]["train"] == {"encoding": 1} and summary["split_sizes"]["train"] == len(ORGANIC)
