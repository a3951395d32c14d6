"""gem-score and gem-interpolate on the bundled model: one JSON line on stdout, the files, and bad input as
one stderr line with exit status 2."""

import csv
import json

import numpy as np
import pytest

from graph_energy import api

BUNDLED = api._ASSETS / api.BUNDLED_MODELS["qm9"]
pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not BUNDLED.is_file(), reason=f"no bundled model graph_energy/assets/{BUNDLED.name}")]


@pytest.fixture()
def reference(tmp_path):
    from graph_energy.scoring import build_reference

    rng = np.random.default_rng(0)
    sizes = np.repeat(np.arange(1, 10), 60)
    path = tmp_path / "ref.json"
    build_reference(rng.normal(0.5, 1.0, sizes.size), sizes, max_nodes=9).save(path)
    return path


def run(main, argv, capsys):
    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_gem_score_writes_the_table(tmp_path, reference, capsys):
    from graph_energy.cli.score import main

    smi = tmp_path / "mols.smi"
    smi.write_text("CCO\nc1ccoc1 furan\n\nCCBr\nOCC\n")
    status, out, _ = run(main, [f"samples={smi}", f"reference={reference}", f"out={tmp_path / 'o'}",
                                "log_level=WARNING"], capsys)
    assert status == 0
    line = json.loads(out)
    assert line["num_molecules"] == 5 and line["representable"] == 3
    assert line["reasons"] == {"empty": 1, "unknown_element": 1} and line["top"][0]["rank"] == 1
    rows = list(csv.DictReader(open(tmp_path / "o" / "scores.csv")))
    assert [r["smiles"] for r in rows] == ["CCO", "c1ccoc1", "", "CCBr", "CCO"]
    assert rows[0]["energy"] == rows[4]["energy"]          # same molecule, other atom order
    assert (tmp_path / "o" / "reference.json").is_file() and (tmp_path / "o" / "summary.json").is_file()


def test_gem_interpolate_writes_the_path(tmp_path, capsys):
    from graph_energy.cli.interpolate import main

    status, out, _ = run(main, ["a=CCO", "b=c1ccoc1", f"out={tmp_path / 'i'}", "images=false", "log_level=WARNING"],
                         capsys)
    assert status == 0
    line = json.loads(out)
    assert line["a"] == "CCO" and line["b"] == "c1ccoc1" and line["steps"] == line["edit_distance"] == 6
    assert line["max_energy"] <= line["naive_max_energy"]
    smi = (tmp_path / "i" / "path.smi").read_text().splitlines()
    assert smi[0] == "CCO" and smi[-1] == "c1ccoc1"


@pytest.mark.parametrize("argv, words", [
    (["samples=missing.smi"], "samples file missing.smi does not exist"),
    ([], "no molecules to score"),
    (["samples=SMI", "ckpt=nope.pt"], "no checkpoint at nope.pt"),
    (["samples=SMI", "batch_size=0"], "batch_size must be"),
    (["samples=SMI", "reference=nope.json"], "no score reference at nope.json"),
    (["samples=SMI", "unknown_key=1"], "unknown_key"),
])
def test_gem_score_bad_input_is_one_line_and_status_2(tmp_path, capsys, argv, words):
    from graph_energy.cli.score import main

    smi = tmp_path / "m.smi"
    smi.write_text("CCO\n")
    argv = [a.replace("SMI", str(smi)) for a in argv]
    status, out, err = run(main, argv + ["log_level=WARNING"], capsys)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("gem-score: error:") and words in err


@pytest.mark.parametrize("argv, words", [
    (["a=CCO"], "missing b=SMILES"),
    (["a=CCO", "b=CCBr"], "b='CCBr': element Br is outside"),
    (["a=C1CC(", "b=CC"], "a='C1CC(': invalid SMILES"),
    (["a=CCO", "b=CC", "beam_width=0"], "beam_width must be"),
    (["a=CCO", "b=CC", "ckpt=nope.pt"], "no checkpoint at nope.pt"),
])
def test_gem_interpolate_bad_input_is_one_line_and_status_2(tmp_path, capsys, argv, words):
    from graph_energy.cli.interpolate import main

    status, out, err = run(main, argv + [f"out={tmp_path / 'x'}", "log_level=WARNING"], capsys)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("gem-interpolate: error:") and words in err


def test_smiles_values_are_quoted_for_hydra():
    from graph_energy.cli._smiles_args import quote_smiles_overrides

    out = quote_smiles_overrides(["a=CC(=O)[O-]", "b='CCO'", "scaffold=[[*]C1CC1,[*]C(=O)O]", "scaffold=[*]c1ccncc1",
                                  "c=null", "seed=3", "+a=C#N"], ("a", "b", "scaffold"))
    assert out == ["a='CC(=O)[O-]'", "b='CCO'", "scaffold=['[*]C1CC1','[*]C(=O)O']", "scaffold='[*]c1ccncc1'",
                   "c=null", "seed=3", "+a='C#N'"]
