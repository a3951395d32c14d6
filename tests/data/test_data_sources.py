"""Split logic and raw readers: QM9 DiGress split, ZINC250k layout, user files, bad files."""

import json

import numpy as np
import pandas as pd
import pytest

from graph_energy.data.sources import (
    qm9_digress_split,
    random_split,
    read_qm9,
    read_smiles_file,
    read_table,
    read_zinc250k,
)


def test_qm9_split_is_pandas_sample_order_on_a_synthetic_frame():
    n = 1000
    frame = pd.DataFrame({"gdb_id": np.arange(1, n + 1), "prop": np.random.default_rng(0).normal(size=n)})
    shuffled = frame.sample(frac=1, random_state=42)
    n_val = n - 700 - int(0.1 * n)
    train, val, test = shuffled.iloc[:700], shuffled.iloc[700:700 + n_val], shuffled.iloc[700 + n_val:]
    ids = qm9_digress_split(num_total=n, num_train=700, seed=42)
    assert np.array_equal(ids["train"], train["gdb_id"].to_numpy())
    assert np.array_equal(ids["val"], val["gdb_id"].to_numpy())
    assert np.array_equal(ids["test"], test["gdb_id"].to_numpy())


def test_qm9_split_sizes_and_randomstate_order():
    ids = qm9_digress_split()
    assert {k: len(v) for k, v in ids.items()} == {"train": 100_000, "val": 20_497, "test": 13_388}
    allids = np.concatenate(list(ids.values()))
    assert np.array_equal(np.sort(allids), np.arange(1, 133_886))
    # DataFrame.sample(frac=1) == legacy RandomState(seed).permutation, independent of the columns
    assert np.array_equal(allids, np.random.RandomState(42).permutation(133_885) + 1)


def write_qm9_part(path, ids):
    pd.DataFrame({"XYZ_file": [f"m{i}.xyz" for i in ids], "Index": ids,
                  "SMILES": ["C" * (1 + i % 3) for i in ids], "Other": 0}).to_csv(path, index=False)


def test_read_qm9_drops_absent_ids(tmp_path):
    present = [i for i in range(1, 133_886) if i % 50 == 0]
    write_qm9_part(tmp_path / "a.csv", present[:1000])
    write_qm9_part(tmp_path / "b.csv", present[1000:])
    raw = read_qm9([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert raw.info["rows_read"] == len(present)
    assert sum(raw.info["missing_gdb_ids"].values()) == 133_885 - len(present)
    split = qm9_digress_split()
    for s, ids in raw.source_index.items():
        assert np.array_equal(ids, np.sort(split[s][split[s] % 50 == 0]))
        assert raw.smiles[s][0] == "C" * (1 + ids[0] % 3)


def test_read_qm9_duplicate_ids(tmp_path):
    write_qm9_part(tmp_path / "a.csv", [1, 2, 3])
    with pytest.raises(ValueError, match="repeat GDB id"):
        read_qm9([tmp_path / "a.csv", tmp_path / "a.csv"])


def write_zinc(tmp_path, smiles, test_rows):
    csv = tmp_path / "250k_rdkit.csv"
    with open(csv, "w") as f:  # the real file quotes each SMILES with a trailing newline inside
        f.write("smiles,logP,qed,SAS\n")
        for s in smiles:
            f.write(f'"{s}\n",1.0,0.5,2.0\n')
    idx = tmp_path / "valid_idx_zinc250k.json"
    idx.write_text(json.dumps(test_rows))
    return csv, idx


def test_read_zinc250k_layout(tmp_path):
    smiles = ["CCO", "c1ccccc1", "CC(=O)[O-]", "C[NH3+]", "CCN"]
    csv, idx = write_zinc(tmp_path, smiles, [1, 3])
    raw = read_zinc250k(csv, idx)
    assert raw.smiles == {"train": ["CCO", "CC(=O)[O-]", "CCN"], "test": ["c1ccccc1", "C[NH3+]"]}
    assert raw.source_index["test"].tolist() == [1, 3]
    idx.write_text(json.dumps([7]))
    with pytest.raises(ValueError, match="outside"):
        read_zinc250k(csv, idx)
    idx.write_text("[1, 2")
    with pytest.raises(ValueError, match="test-index"):
        read_zinc250k(csv, idx)


def test_random_split_deterministic():
    a = random_split(101, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    b = random_split(101, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert sorted(np.concatenate(list(a.values())).tolist()) == list(range(101))
    assert len(a["val"]) == 10 and len(a["train"]) == 81


def test_user_files(tmp_path):
    smi = tmp_path / "mols.smi"
    smi.write_text("SMILES\nCCO name1\nc1ccccc1\n\nCC\n")
    raw = read_smiles_file(smi, fractions={"train": 1.0}, seed=0)
    assert raw.smiles["train"] == ["CCO", "c1ccccc1", "", "CC"]
    csv = tmp_path / "mols.csv"
    pd.DataFrame({"mol": ["CCO", "CC", "CN"], "fold": ["train", "test", "Train"]}).to_csv(csv, index=False)
    raw = read_smiles_file(csv, smiles_column="mol", split_column="fold")
    assert raw.smiles == {"test": ["CC"], "train": ["CCO", "CN"]}
    with pytest.raises(ValueError, match="smiles_column"):
        read_smiles_file(csv)
    with pytest.raises(ValueError, match="split column 'nope'"):
        read_smiles_file(csv, smiles_column="mol", split_column="nope")


@pytest.mark.parametrize("content,msg", [
    ("", "is empty"),
    ("smiles,logP\n", "no rows"),
    ('smiles,logP\n"CCO\n",1.0\n"CC', "truncated or malformed"),
])
def test_bad_files(tmp_path, content, msg):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(ValueError, match=msg):
        read_table(p, ["smiles"])


def test_missing_file_and_column(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="lacks column"):
        read_table(p, ["smiles"])


def test_truncated_gzip_moses_folder(tmp_path):
    import gzip

    from graph_energy.data.sources import read_moses

    for split in ("train", "test", "test_scaffolds"):
        with gzip.open(tmp_path / f"{split}.csv.gz", "wt") as f:
            f.write("SMILES,SPLIT\n" + "CCO,train\n" * 5000)
    raw = read_moses(tmp_path)
    assert {k: len(v) for k, v in raw.smiles.items()} == {"train": 5000, "test": 5000, "test_scaffolds": 5000}
    data = (tmp_path / "train.csv.gz").read_bytes()
    (tmp_path / "train.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"train\.csv\.gz is truncated or malformed"):
        read_moses(tmp_path)
