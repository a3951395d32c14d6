"""Labels flow from a source into the dataset graphs (``data.y``, dense ``y``); the property objective learns them."""

import math

import pytest
import torch
from labelled_sources import LabelledToySource, toy_smiles

from graph_energy.data import load_dataset
from graph_energy.data.labels import LabelledGraph
from graph_energy.noise import UniformNoise
from graph_energy.training.property import PropertyObjective


@pytest.fixture()
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_labels_reach_items_and_dense_batches(data_root):
    data = load_dataset(LabelledToySource(), labels=["carbons", "nitrogen"], workers=0)
    train = data.train
    assert train.label_names == ("carbons", "nitrogen")
    smiles = train.smiles
    batch = train.dense(torch.arange(len(train)))
    assert isinstance(batch, LabelledGraph) and batch.y.shape == (len(train), 2)
    for i, s in enumerate(smiles):
        assert batch.y[i].tolist() == [float(s.count("C")), float("N" in s)]
        assert train[i].y.tolist() == [batch.y[i].tolist()]
    moved = batch.to("cpu").index(torch.tensor([1, 0]))
    assert isinstance(moved, LabelledGraph) and torch.equal(moved.y, batch.y[[1, 0]])
    plain = load_dataset(LabelledToySource(), workers=0)  # same cache, no labels
    assert plain.cache_hit and not isinstance(plain.train.dense(torch.arange(2)), LabelledGraph)


def test_label_halves_are_disjoint_and_cover_the_training_split(data_root):
    full = load_dataset(LabelledToySource(), labels=["carbons"], workers=0).train
    a = load_dataset(LabelledToySource(), labels=["carbons"], labels_half=0, workers=0).train
    b = load_dataset(LabelledToySource(), labels=["carbons"], labels_half=1, workers=0).train
    ids = lambda ds: {int(full.store.source_index[i]) for i in ds.indices()}  # noqa: E731
    assert ids(a).isdisjoint(ids(b)) and ids(a) | ids(b) == set(full.store.source_index.tolist())
    assert all(i % 2 == 0 for i in ids(a))
    ya = a.dense(torch.arange(len(a))).y[:, 0]
    want = [toy_smiles(60)[i - 100].count("C") for i in sorted(ids(a))]
    assert sorted(ya.tolist()) == sorted(float(w) for w in want)


@pytest.mark.parametrize("kw,msg", [
    ({"labels": ["boiling"]}, "labelled_toy has no label(s) ['boiling']; available: ['carbons', 'nitrogen']"),
    ({"labels_half": 0}, "labels_half selects the labelled half of the training split; it needs labels=[...]"),
    ({"labels": ["carbons"], "labels_half": 2}, "labels_half must be 0, 1 or null, got 2"),
])
def test_label_errors(data_root, kw, msg):
    import re

    with pytest.raises(ValueError, match=re.escape(msg)):
        load_dataset(LabelledToySource(), workers=0, **kw)


def test_a_source_without_labels_says_so(data_root, tmp_path):
    p = tmp_path / "mols.smi"
    p.write_text("CCO\nCCN\nCCC\n")
    with pytest.raises(ValueError, match="dataset 'smiles' .* has no labels; labels=\\['mu'\\] needs a source"):
        load_dataset("smiles", path=str(p), labels=["mu"], workers=0)


NORM = {"carbons": {"mean": 4.0, "std": 2.0}, "nitrogen": {"mean": 0.3, "std": 0.5}}


def tiny_regressor(spec, k: int):
    from graph_energy.models import build_model

    torch.manual_seed(0)
    cfg = {"n_layers": 1, "hidden_x": 16, "hidden_e": 8, "hidden_y": 8, "n_heads": 2, "ff_x": 16, "ff_e": 8,
           "ff_y": 8, "rw_steps": 2,
           "head": {"_target_": "graph_energy.models.heads.RegressionHead", "num_targets": k}}
    return build_model(cfg, spec)


def test_property_objective_learns_the_labels(data_root):
    data = load_dataset(LabelledToySource(), labels=["carbons", "nitrogen"], workers=0)
    model = tiny_regressor(data.spec, 2)
    obj = PropertyObjective(["carbons", "nitrogen"], NORM, noise=UniformNoise.from_data(data.spec), noisy_weight=0.5)
    batch = data.train.dense(torch.arange(len(data.train)))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(40):
        out = obj(model, batch, torch.Generator().manual_seed(step), step=step)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.terms["loss_clean"]))
    assert set(out.terms) == {"loss_clean", "loss_noisy"} and math.isfinite(float(out.terms["loss_noisy"]))
    assert losses[-1] < 0.25 * losses[0], losses[::5]


def test_property_objective_skips_unknown_labels_and_explains_missing_ones(data_root):
    data = load_dataset(LabelledToySource(), labels=["carbons"], workers=0)
    model = tiny_regressor(data.spec, 1)
    obj = PropertyObjective("carbons", NORM)
    batch = data.train.dense(torch.arange(4))
    y = batch.y.clone()
    y[0] = float("nan")
    nan_batch = LabelledGraph(batch.x, batch.e, batch.node_mask, y)
    out = obj(model, nan_batch, torch.Generator().manual_seed(0))
    rest = obj(model, batch.index(torch.arange(1, 4)), torch.Generator().manual_seed(0))
    assert torch.allclose(out.loss, rest.loss)
    from graph_energy.data.dense import DenseGraph

    with pytest.raises(ValueError, match="needs labelled graphs: load the dataset with labels"):
        obj(model, DenseGraph(batch.x, batch.e, batch.node_mask), torch.Generator())
    with pytest.raises(ValueError, match="set model.head.num_targets=2"):
        PropertyObjective(["carbons", "nitrogen"], NORM)(model, LabelledGraph(batch.x, batch.e, batch.node_mask,
                                                                               torch.zeros(4, 2)), torch.Generator())
    with pytest.raises(ValueError, match=r"no normalization for \['mu'\]"):
        PropertyObjective("mu", NORM)
