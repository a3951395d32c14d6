"""Checks on the real QM9 / MOSES files (marker ``dataset``; full processing also ``slow``)."""

import importlib.util
import random

import pytest

from graph_energy.chem import canonical_smiles, smiles_to_graph
from graph_energy.chem.convert import graph_to_mol

pytestmark = pytest.mark.dataset


def need(package):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"data package {package!r} not installed")


def test_qm9_digress_split_sizes():
    need("qm9pack")
    from graph_energy.data.sources import read_qm9

    raw = read_qm9()
    assert raw.info["rows_read"] == 130_831
    assert raw.info["split_before_drop"] == {"train": 100_000, "val": 20_497, "test": 13_388}
    assert {k: len(v) for k, v in raw.smiles.items()} == {"train": 97_734, "val": 20_042, "test": 13_055}
    assert sum(raw.info["missing_gdb_ids"].values()) == 3_054


def test_moses_files():
    need("moses")
    from graph_energy.data.sources import read_moses

    raw = read_moses()
    assert {k: len(v) for k, v in raw.smiles.items()} == {"train": 1_584_663, "test": 176_074,
                                                          "test_scaffolds": 176_225}


@pytest.mark.slow
def test_qm9_full_processing(tmp_path):
    need("qm9pack")
    from graph_energy.data import load_dataset

    data = load_dataset("qm9", root=tmp_path)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 97_734, "val": 20_042, "test": 13_055}
    assert data.report["round_trip_rate"] == 1.0 and data.spec.max_nodes == 9
    assert {"C", "N", "O", "F", "N+", "O-"} <= set(data.spec.atom_types)
    rng = random.Random(0)
    for i in rng.sample(range(len(data.test)), 200):
        item = data.test[i]
        g = smiles_to_graph(item.smiles, data.spec)
        assert canonical_smiles(graph_to_mol(g.x, g.e, data.spec)) == item.smiles
    again = load_dataset("qm9", root=tmp_path)
    assert again.cache_hit and again.seconds < 5


@pytest.mark.parametrize("name,package", [("qm9", "qm9pack"), ("moses", "moses")])
def test_old_checkpoint_configs_keep_their_cache_key(name, package):
    """A dataset config recorded by an older version (``name:`` plus flat options) and today's YAML
    select the same cache folder (nothing is built here)."""
    need(package)
    from graph_energy.cli.data import compose_config
    from graph_energy.data.cache import settings_hash
    from graph_energy.data.datasets import DatasetConfig

    old = {"_target_": "graph_energy.data.load_dataset", "name": name, "path": None, "root": None, "kekulize": True,
           "max_nodes": None, "spec": None, "workers": 2, "force_reload": False,
           **({"seed": 42, "num_train": 100000} if name == "qm9" else {})}
    keys = []
    for cfg in (old, compose_config([f"dataset={name}"])["dataset"], name):
        d = DatasetConfig.parse(cfg)
        keys.append(settings_hash(d.settings(d.files())))
    assert len(set(keys)) == 1
