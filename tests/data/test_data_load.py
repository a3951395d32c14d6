"""load_dataset end to end on small files: bundle API, stats, cache reuse/invalidation, bad input, CLI."""

import importlib.util
import json

import pandas as pd
import pytest
import torch
from torch_geometric.loader import DataLoader

from graph_energy.chem import canonical_smiles, dense_to_smiles
from graph_energy.chem.encode import encode_chunk
from graph_energy.cli.data import main as gem_data
from graph_energy.data import DenseGraph, MolecularSpec, load_dataset
from graph_energy.data.build import build_splits
from graph_energy.data.sources import RawSplits

MOLS = ["CCO", "c1ccccc1", "C[N+](=O)[O-]", "[NH3+]CC(=O)[O-]", "CC(=O)Nc1ccccc1", "O=C1NC=CN1", "CCN(CC)CC",
        "c1ccncc1", "C#CC(C)O", "FC(F)F", "OC1CCCCC1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "[O-][n+]1ccccc1",
        "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "c1cc[nH]c1", "CCOC(=O)C", "N#CC#N", "CS(C)=O", "ClCCl", "C1CC1N"] * 3


def write_csv(path, smiles, split=None):
    df = pd.DataFrame({"smiles": smiles})
    if split is not None:
        df["split"] = split
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def csv_file(tmp_path):
    split = ["train"] * 40 + ["val"] * 10 + ["test"] * 10
    return write_csv(tmp_path / "mols.csv", MOLS, split)


def test_bundle_api(csv_file, tmp_path):
    data = load_dataset("smiles", path=csv_file, root=tmp_path / "cache", split_column="split")
    assert {k: len(v) for k, v in data.splits.items()} == {"test": 10, "train": 40, "val": 10}
    spec = data.spec
    assert "N+" in spec.atom_types and "O-" in spec.atom_types and spec.kekulize
    assert spec.max_nodes == max(d.num_nodes for d in data.train)
    item = data.train[2]
    assert item.x.dtype == torch.long and item.edge_attr.dtype == torch.long and (item.edge_attr >= 1).all()
    assert item.smiles == canonical_smiles(MOLS[2])
    batch = next(iter(DataLoader(data.train, batch_size=16)))
    dense = DenseGraph.from_pyg(batch, spec.num_atom_types, spec.num_bond_types).validate()
    assert dense_to_smiles(dense, spec) == [canonical_smiles(s) for s in MOLS[:16]]
    direct = data.train.dense(range(16), max_nodes=dense.max_nodes)
    assert torch.equal(direct.x, dense.x) and torch.equal(direct.e, dense.e)
    assert data.train.smiles[:3] == [canonical_smiles(s) for s in MOLS[:3]]
    assert data.report["round_trip_rate"] == 1.0 and data.report["dropped_total"] == {}
    s = data.summary()
    assert json.loads(json.dumps(s))["split_sizes"]["train"] == 40


def test_stats_from_training_split(csv_file, tmp_path):
    data = load_dataset("smiles", path=csv_file, root=tmp_path, split_column="split")
    st = data.stats
    train = list(data.train)
    n = torch.tensor([d.num_nodes for d in train])
    assert torch.equal(st.num_nodes_hist, torch.bincount(n, minlength=data.spec.max_nodes + 1))
    xs = torch.cat([d.x for d in train])
    assert torch.allclose(st.node_marginals, torch.bincount(xs, minlength=data.spec.num_atom_types).double() / len(xs))
    pairs = float((n * (n - 1) // 2).sum())
    bonds = torch.cat([d.edge_attr for d in train])  # both directions
    counts = torch.bincount(bonds, minlength=data.spec.num_bond_types).double() / 2
    counts[0] = pairs - counts[1:].sum()
    assert torch.allclose(st.edge_marginals, counts / pairs)
    sizes = st.sample_num_nodes(500, torch.Generator().manual_seed(0))
    assert sizes.shape == (500,) and set(sizes.tolist()) <= set(n.tolist())
    again = st.sample_num_nodes(500, torch.Generator().manual_seed(0))
    assert torch.equal(sizes, again)
    assert type(st).from_dict(st.to_dict()).to_dict() == st.to_dict()


def test_cache_reuse_and_invalidation(csv_file, tmp_path):
    root = tmp_path / "cache"
    a = load_dataset("smiles", path=csv_file, root=root, split_column="split")
    b = load_dataset("smiles", path=csv_file, root=root, split_column="split")
    assert not a.cache_hit and b.cache_hit and a.cache_dir == b.cache_dir
    c = load_dataset("smiles", path=csv_file, root=root, split_column="split", kekulize=False)
    assert not c.cache_hit and c.cache_dir != a.cache_dir and "aromatic" in c.spec.bond_types
    write_csv(csv_file, MOLS[:-1] + ["CCCl"], ["train"] * 40 + ["val"] * 10 + ["test"] * 10)
    d = load_dataset("smiles", path=csv_file, root=root, split_column="split")
    assert not d.cache_hit and d.test.smiles[-1] == "CCCl"
    meta = json.loads((d.cache_dir / "meta.json").read_text())
    assert meta["spec"] == d.spec.to_dict() and len(meta["settings_hash"]) == 16
    (d.cache_dir / "meta.json").write_text("{broken")
    assert not load_dataset("smiles", path=csv_file, root=root, split_column="split").cache_hit
    assert not load_dataset("smiles", path=csv_file, root=root, split_column="split", force_reload=True).cache_hit


def test_drops_are_counted(tmp_path):
    smiles = ["CCO", "CC", "not_smiles", "", "[CH3]", "CCCCCCCCCCCC", "CO"] * 2
    p = write_csv(tmp_path / "m.csv", smiles, ["train"] * 7 + ["test"] * 7)
    data = load_dataset("smiles", path=p, root=tmp_path, split_column="split", max_nodes=8)
    assert data.report["dropped"]["train"] == {"empty": 1, "invalid_smiles": 1, "radical": 1, "too_large": 1}
    assert len(data.train) == 3 and len(data.test) == 3
    assert "not_smiles" in data.report["drop_examples"]["invalid_smiles"]


def test_given_spec_unknown_atoms_dropped(tmp_path):
    spec = MolecularSpec("fixed", ("C", "O"), ("none", "single", "double", "triple"), max_nodes=6)
    spec.save(tmp_path / "spec.json")
    p = write_csv(tmp_path / "m.csv", ["CCO", "CCN", "C=O", "CCCl", "CCCCCCC"], ["train"] * 5)
    data = load_dataset("smiles", path=p, root=tmp_path, split_column="split", spec=str(tmp_path / "spec.json"))
    assert data.spec == spec
    assert data.report["dropped"]["train"] == {"too_large": 1, "unknown_atom": 2}
    assert "CCN" in data.report["drop_examples"]["unknown_atom"] or "CCCl" in data.report["drop_examples"]["unknown_atom"]
    assert data.train.smiles == ["CCO", "C=O"]


def test_val_test_atoms_outside_train_vocabulary(tmp_path):
    p = write_csv(tmp_path / "m.csv", ["CCO", "CC", "CCN", "CCS"], ["train", "train", "test", "test"])
    data = load_dataset("smiles", path=p, root=tmp_path, split_column="split")
    assert data.spec.atom_types == ("C", "O")
    assert data.report["dropped"]["test"] == {"unknown_atom": 2} and len(data.test) == 0


def test_multiprocessing_matches_serial():
    raw = RawSplits({"train": MOLS, "test": MOLS[:7]}, {"train": torch.arange(60).numpy(), "test": torch.arange(7).numpy()})
    serial = build_splits(raw, "t", encode=encode_chunk, workers=1, chunk_size=4)
    pooled = build_splits(raw, "t", encode=encode_chunk, workers=2, chunk_size=4)
    assert serial.spec == pooled.spec
    for s in serial.stores:
        for k, v in serial.stores[s].state_dict().items():
            assert torch.equal(v, pooled.stores[s].state_dict()[k]), k


def test_zinc250k_from_local_files(tmp_path):
    csv = tmp_path / "250k_rdkit.csv"
    with open(csv, "w") as f:
        f.write("smiles,logP,qed,SAS\n")
        for s in MOLS[:20]:
            f.write(f'"{s}\n",1.0,0.5,2.0\n')
    idx = tmp_path / "valid_idx_zinc250k.json"
    idx.write_text(json.dumps([0, 5, 7]))
    data = load_dataset("zinc250k", path=csv, test_idx_path=idx, root=tmp_path / "c")
    assert len(data.train) == 17 and len(data.test) == 3 and data.val is data.test
    assert data.spec.kekulize and data.test.smiles[0] == canonical_smiles("CCO")


def test_zinc250k_offline_error(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ValueError, match=r"dataset\.source\.path=<path>"):
        load_dataset("zinc250k", root=tmp_path)


def test_checksum_mismatch(tmp_path):
    raw = tmp_path / "zinc250k" / "raw"
    raw.mkdir(parents=True)
    (raw / "250k_rdkit.csv").write_text('smiles,logP,qed,SAS\n"CCO\n",1,1,1\n')
    (raw / "valid_idx_zinc250k.json").write_text("[0]")
    with pytest.raises(ValueError, match="SHA-256"):
        load_dataset("zinc250k", root=tmp_path, sha256={"csv": "0" * 64})


def test_unknown_name_and_options(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'qm10'"):
        load_dataset("qm10", root=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset option"):
        load_dataset("qm9", root=tmp_path, kekulise=True)
    with pytest.raises(ValueError, match="needs a file"):
        load_dataset("smiles", root=tmp_path)


def test_missing_data_packages(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in ("qm9pack", "moses") else real(n, *a))
    with pytest.raises(ValueError, match=r"pip install qm9pack==1\.0\.3"):
        load_dataset("qm9", root=tmp_path)
    with pytest.raises(ValueError, match=r"pip install --no-deps molsets==0\.3\.1"):
        load_dataset("moses", root=tmp_path)


def test_cli_json_line_and_errors(csv_file, tmp_path, capsys):
    rc = gem_data(["dataset=smiles", f"dataset.source.path={csv_file}", "dataset.source.split_column=split",
                   f"dataset.root={tmp_path / 'cli'}", "log_level=WARNING"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and len(out) == 1
    summary = json.loads(out[0])
    assert summary["split_sizes"] == {"test": 10, "train": 40, "val": 10} and summary["round_trip_rate"] == 1.0
    assert {"dropped", "vocabulary", "max_nodes", "seconds", "cache_hit"} <= set(summary)
    for argv, msg in [(["dataset=nope"], "nope"), (["dataset=smiles"], "needs a file"),
                      (["dataset=smiles", f"dataset.source.path={tmp_path / 'missing.csv'}"], "does not exist"),
                      (["dataset=custom"], "no _target_"), (["dataset=qm9", "+dataset.source.nope=1"], "nope")]:
        assert gem_data(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("gem-data: error:") and msg in err and "Traceback" not in err


@pytest.mark.parametrize("name,cls", [("qm9", "QM9Source"), ("moses", "MosesSource"), ("zinc250k", "Zinc250kSource"),
                                      ("smiles", "SmilesFileSource")])
def test_dataset_configs_compose(name, cls, tmp_path):
    from graph_energy.cli.data import compose_config
    from graph_energy.data.datasets import DATASET_OPTIONS, DatasetConfig

    cfg = compose_config([f"dataset={name}", f"dataset.source.path={tmp_path / 'x.csv'}"])["dataset"]
    assert cfg["_target_"] == "graph_energy.data.load_dataset"
    assert cfg["source"]["_target_"] == f"graph_energy.data.sources.{cls}"
    assert set(cfg) - {"_target_", "source"} <= set(DATASET_OPTIONS)
    parsed = DatasetConfig.parse(cfg)  # untrusted is fine: library classes only
    assert type(parsed.source).__name__ == cls and parsed.source.name == name


def test_old_and_new_config_forms_are_one_dataset(csv_file, tmp_path):
    """Old configs (and checkpoints) name a library dataset with flat arguments; they select the same cache."""
    old = load_dataset({"_target_": "graph_energy.data.load_dataset", "name": "smiles", "path": str(csv_file),
                        "split_column": "split", "split_fractions": {"train": 0.8, "val": 0.1, "test": 0.1},
                        "seed": 0, "root": str(tmp_path), "kekulize": True, "max_nodes": None, "spec": None,
                        "workers": 2, "force_reload": False})
    new = load_dataset({"_target_": "graph_energy.data.load_dataset", "root": str(tmp_path),
                        "source": {"_target_": "graph_energy.data.sources.SmilesFileSource", "path": str(csv_file),
                                   "split_column": "split"}})
    from graph_energy.data import SmilesFileSource

    obj = load_dataset(SmilesFileSource(csv_file, split_column="split"), root=tmp_path)
    assert not old.cache_hit and new.cache_hit and obj.cache_hit
    assert old.cache_dir == new.cache_dir == obj.cache_dir and old.cache_dir.parent.name == "smiles"
    assert new.summary()["split_sizes"] == {"test": 10, "train": 40, "val": 10}
    with pytest.raises(ValueError, match="not both"):
        load_dataset({"name": "smiles", "source": {"_target_": "graph_energy.data.sources.SmilesFileSource"}})
    with pytest.raises(ValueError, match=r"source arguments go under source"):
        load_dataset({"source": "qm9", "seed": 3})
    with pytest.raises(ValueError, match="workers"):
        load_dataset("qm9", workers=-1)


def test_hydra_instantiate(csv_file, tmp_path):
    from hydra.utils import instantiate

    from graph_energy.cli.data import compose_config

    cfg = compose_config(["dataset=smiles", f"dataset.source.path={csv_file}", "dataset.source.split_column=split",
                          f"dataset.root={tmp_path}"])
    data = instantiate(cfg["dataset"])
    assert len(data.train) == 40 and data.spec.kekulize
