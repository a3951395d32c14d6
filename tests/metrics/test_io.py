import gzip

import pytest

from graph_energy.metrics.io import read_smiles


def test_plain_lines(tmp_path):
    p = tmp_path / "s.smi"
    p.write_text("smiles\nCCO name1\n\nnot_a_smiles\nc1ccccc1\n\n\n")
    assert read_smiles(p) == ["CCO", "", "not_a_smiles", "c1ccccc1"]


def test_gzip_and_csv(tmp_path):
    g = tmp_path / "s.smi.gz"
    with gzip.open(g, "wt") as fh:
        fh.write("CCO\nCCN\n")
    assert read_smiles(g) == ["CCO", "CCN"]
    c = tmp_path / "s.csv"
    c.write_text("id,SMILES,score\n1,CCO,0.5\n2,,0.1\n")
    assert read_smiles(c) == ["CCO", ""]
    c2 = tmp_path / "t.txt"
    c2.write_text("mol,x\nCCO,1\n")
    assert read_smiles(c2, column="mol") == ["CCO"]


@pytest.mark.parametrize("content,column,match", [
    ("", None, "empty"),
    ("\n\n", None, "empty"),
])
def test_empty_file(tmp_path, content, column, match):
    p = tmp_path / "e.smi"
    p.write_text(content)
    with pytest.raises(ValueError, match=match):
        read_smiles(p, column)


def test_bad_columns_and_missing(tmp_path):
    c = tmp_path / "s.csv"
    c.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="column=NAME"):
        read_smiles(c)
    with pytest.raises(ValueError, match="'zz' not in"):
        read_smiles(c, column="zz")
    with pytest.raises(ValueError, match="does not exist"):
        read_smiles(tmp_path / "missing.smi")
    e = tmp_path / "e.csv"
    e.write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_smiles(e)


def test_bytes_that_are_not_utf8_make_one_invalid_sample(tmp_path):
    from graph_energy.metrics import read_smiles

    plain, table = tmp_path / "gen.smi", tmp_path / "gen.csv"
    plain.write_bytes(b"CCO\nC\xffO\nc1ccccc1\n")
    table.write_bytes(b"smiles\nCCO\nC\xffO\nc1ccccc1\n")
    for path in (plain, table):
        got = read_smiles(path)
        assert len(got) == 3 and got[0] == "CCO" and "\ufffd" in got[1] and got[2] == "c1ccccc1"
