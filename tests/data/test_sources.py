"""Dataset sources chosen by ``_target_``: a source defined in a test module, trust, references, layering."""

import ast
import json
from pathlib import Path

import pandas as pd
import pytest
from toy_sources import ToySource, toy_smiles

import graph_energy
from graph_energy.chem import canonical_smiles, spec_from_smiles
from graph_energy.cli.data import main as gem_data
from graph_energy.config import UnsafeTargetError
from graph_energy.data import DatasetConfig, QM9Source, load_dataset
from graph_energy.metrics.reference import dataset_split_smiles

TOY = f"{ToySource.__module__}.ToySource"


def test_toy_source_through_gem_data(tmp_path, capsys):
    argv = ["dataset=custom", f"dataset.source._target_={TOY}", "+dataset.source.num_molecules=12",
            f"dataset.root={tmp_path}", "log_level=WARNING"]
    assert gem_data(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip())
    assert summary["dataset"] == "toy" and summary["rows_read"] == 12 and summary["protocol"] == "toy alkanols"
    assert summary["split_sizes"] == {"train": 8, "val": 2, "test": 2} and summary["dropped_total"] == {}
    # training split CO CCO CCCN CCCCO CCCCCO CCCCCCN CO CCO: 24 C, 6 O, 2 N; largest 7 atoms
    assert summary["vocabulary"]["atom_types"] == ["C", "O", "N"] and summary["max_nodes"] == 7
    assert Path(summary["cache_dir"]).parent == tmp_path / "toy" and not summary["cache_hit"]
    assert gem_data(argv) == 0 and json.loads(capsys.readouterr().out)["cache_hit"]
    # the source's arguments are its split settings: another size is another cache folder
    assert gem_data(argv[:2] + ["+dataset.source.num_molecules=16", *argv[3:]]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["split_sizes"] == {"train": 8, "val": 4, "test": 4} and other["cache_dir"] != summary["cache_dir"]


def test_toy_source_data_and_references(tmp_path):
    data = load_dataset(ToySource(num_molecules=10, num_train=6), root=tmp_path)
    assert data.train.smiles == [canonical_smiles(s) for s in toy_smiles(6)]
    assert data.spec == spec_from_smiles(toy_smiles(6), "toy")  # one vocabulary derivation
    # not raw_references: evaluation references are the processed split
    assert dataset_split_smiles(ToySource(num_molecules=10, num_train=6), "validation") == data.val.smiles


@pytest.mark.parametrize("cfg", [
    {"_target_": "os.system", "command": "touch {marker}"},
    {"_target_": "graph_energy.data.load_dataset", "source": {"_target_": "os.system", "command": "touch {marker}"}},
    {"_target_": "graph_energy.data.load_dataset", "source": {"_target_": "subprocess.run", "args": ["touch", "{marker}"]}},
])
def test_untrusted_config_cannot_run_code(cfg, tmp_path):
    marker = tmp_path / "ran"
    cfg = json.loads(json.dumps(cfg).replace("{marker}", str(marker)))  # as a checkpoint stores it
    with pytest.raises(UnsafeTargetError, match="refusing to build"):
        load_dataset(cfg)
    with pytest.raises(UnsafeTargetError):
        dataset_split_smiles(cfg, "train")
    assert not marker.exists()


def test_own_source_from_a_checkpoint_needs_allowing(tmp_path, monkeypatch):
    import graph_energy.config as config

    cfg = {"_target_": "graph_energy.data.load_dataset", "source": {"_target_": TOY, "num_molecules": 10},
           "root": str(tmp_path)}
    with pytest.raises(UnsafeTargetError, match="allow_targets"):
        load_dataset(cfg)
    assert load_dataset(cfg, trusted=True).summary()["split_sizes"] == {"train": 8, "val": 1, "test": 1}
    monkeypatch.setattr(config, "_ALLOWED", set())
    config.allow_targets(ToySource.__module__ + ".")
    assert load_dataset(cfg).cache_hit
    with pytest.raises(ValueError, match="not a graph_energy.data.sources.DatasetSource"):
        load_dataset({"source": {"_target_": "graph_energy.data.MolecularSpec", "name": "x", "atom_types": ["C"],
                                 "bond_types": ["none", "single"], "max_nodes": 3}})


def write_qm9_part(path, ids):
    pd.DataFrame({"Index": ids, "SMILES": ["C" * (1 + i % 3) + "O" for i in ids]}).to_csv(path, index=False)


def test_raw_references_come_from_the_files(tmp_path):
    """QM9's references are its published split, read from the files without processing."""
    ids = list(range(1, 133_886, 40))
    write_qm9_part(tmp_path / "part.csv", ids)
    cfg = {"source": {"_target_": "graph_energy.data.sources.QM9Source", "path": str(tmp_path / "part.csv")},
           "root": str(tmp_path / "cache")}
    raw = QM9Source(path=tmp_path / "part.csv").read([tmp_path / "part.csv"])
    assert dataset_split_smiles(cfg, "test") == raw.smiles["test"] and len(raw.smiles["test"]) > 300
    assert not (tmp_path / "cache").exists()  # nothing was processed
    with pytest.raises(ValueError, match="no split 'test_scaffolds'"):
        dataset_split_smiles(cfg, "testsf")


def test_moses_source_on_small_files(tmp_path):
    import gzip

    rows = {"train": ["CCO", "c1ccccc1", "CC(=O)Nc1ccccc1", "CCN"] * 3, "test": ["CCCO", "c1ccncc1"],
            "test_scaffolds": ["C1CCCCC1", "O=C1CCCN1", "CCS"]}
    for split, smiles in rows.items():
        with gzip.open(tmp_path / f"{split}.csv.gz", "wt") as f:
            f.write("SMILES,SPLIT\n" + "".join(f"{s},{split}\n" for s in smiles))
    cfg = {"source": {"_target_": "graph_energy.data.sources.MosesSource", "path": str(tmp_path)},
           "root": str(tmp_path / "cache"), "workers": 1}
    data = load_dataset(cfg)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 12, "test": 2, "test_scaffolds": 2}
    assert data.val is data.test and data.report["dropped"]["test_scaffolds"] == {"unknown_atom": 1}
    assert data.spec.atom_types == ("C", "N", "O") and data.cache_dir.parent.name == "moses"  # N, O tie: by name
    # references are the published files, not the processed splits (CCS is kept)
    assert dataset_split_smiles(cfg, "test_scaffolds") == rows["test_scaffolds"]
    source = DatasetConfig.parse(cfg).source
    assert source.reference_statistics("test") is None  # shipped statistics belong to the molsets files only


def test_evaluator_reads_references_through_the_source(tmp_path):
    from graph_energy.metrics import Evaluator, Protocol

    p = Protocol("t", metrics=("basic",), references=("test",), num_samples=2)
    ds = {"source": ToySource(num_molecules=10), "root": str(tmp_path)}
    ev = Evaluator.from_dataset(p, ds, use_cache=False)
    data = load_dataset(ds)
    assert ev.dataset == "toy" and ev.references[0].smiles == data.test.smiles and ev.train == data.train.smiles
    m = ev.evaluate(["OCC", "CCCCCCCO"]).metrics  # OCC is the training molecule CCO
    assert m["validity"] == 1.0 and m["novelty"] == 0.5


def test_data_never_imports_chem():
    """``chem`` builds on ``data`` (specs, dense graphs, the encoder contract); ``data`` reaches the
    encoder only by its dotted name (``DatasetConfig.encoder``)."""
    pkg = Path(graph_energy.__file__).parent / "data"
    bad = []
    for path in sorted(pkg.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{path.name}: {n}" for n in names if n.startswith("graph_energy.chem")]
    assert bad == []
    assert DatasetConfig(ToySource()).encoder == "graph_energy.chem.encode.encode_chunk"
