"""Reference statistics shipped in the package: used when their key (sha256 of the exact reference
SMILES) matches, stored compactly, and never used for other reference sets."""

import importlib.util

import numpy as np
import pytest

from graph_energy.metrics import _util
from graph_energy.metrics.fcd import GaussianStats, frechet_distance


def test_pack_and_unpack_round_trip():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 8))
    cov = np.cov(a, rowvar=False)
    arrays = {"mu": a.mean(0), "sigma": cov, "n": np.array(300), "mean": rng.random(5000)}
    packed = _util.pack_arrays(arrays)
    assert set(packed) == {"mu", "sigma@triu", "n", "mean"} and packed["sigma@triu"].dtype == np.float32
    back = _util.unpack_arrays(packed)
    assert np.array_equal(back["sigma"], back["sigma"].T) and np.allclose(back["sigma"], cov, rtol=1e-6)
    assert back["mean"].dtype == np.float64 and np.allclose(back["mean"], arrays["mean"], rtol=1e-6)
    assert np.array_equal(back["mu"], arrays["mu"]) and int(back["n"]) == 300
    # the rounding moves a Fréchet distance by far less than its reporting precision
    g = GaussianStats(a[:150].mean(0), np.cov(a[:150], rowvar=False), 150)
    exact = frechet_distance(g, GaussianStats(arrays["mu"], cov, 300))
    assert abs(frechet_distance(g, GaussianStats(back["mu"], back["sigma"], 300)) - exact) < 1e-6


def test_shipped_entry_wins_over_computing_and_others_are_computed(tmp_path, monkeypatch):
    monkeypatch.setattr(_util, "SHIPPED_DIR", tmp_path / "shipped")
    monkeypatch.setenv("GEM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "shipped" / "fcd").mkdir(parents=True)
    np.savez_compressed(tmp_path / "shipped" / "fcd" / "k1.npz", **_util.pack_arrays({"x": np.arange(3.0)}))
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.ones(2)}

    assert np.array_equal(_util.cached_npz("fcd", "k1", compute)["x"], np.arange(3.0)) and not calls
    assert np.array_equal(_util.cached_npz("fcd", "k2", compute)["x"], np.ones(2)) and calls == [1]
    assert (tmp_path / "cache" / "fcd" / "k2.npz").is_file()  # computed entries go to the user cache
    assert np.array_equal(_util.cached_npz("fcd", "k1", compute, use_cache=False)["x"], np.ones(2))


def test_the_package_ships_the_bundled_models_evaluation_references():
    names = {p.parent.name for p in _util.SHIPPED_DIR.rglob("*") if p.is_file()}
    assert names == {"canonical", "fcd", "nspdk", "moldist"}
    total = sum(p.stat().st_size for p in _util.SHIPPED_DIR.rglob("*") if p.is_file())
    assert total < 2 * 2**20


@pytest.mark.dataset
def test_shipped_statistics_match_the_qm9_test_split(tmp_path, monkeypatch):
    """The QM9 test split's keys are the shipped files (qm9pack needed to read the split)."""
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack is not installed")
    from graph_energy.metrics import fcd as fcd_mod
    from graph_energy.metrics.evaluator import _CANON_VERSION
    from graph_energy.metrics.reference import dataset_split_smiles

    monkeypatch.setenv("GEM_CACHE_DIR", str(tmp_path))
    test = dataset_split_smiles({"name": "qm9"}, "test")
    assert _util.shipped_path("canonical", _util.smiles_key(test, _CANON_VERSION), ".json.gz") is not None
    canon = _util.cached_json("canonical", _util.smiles_key(test, _CANON_VERSION), lambda: pytest.fail("computed"))
    assert _util.shipped_path("fcd", _util.smiles_key(canon, fcd_mod._CACHE_VERSION), ".npz") is not None
    assert int(fcd_mod.reference_stats(canon).n) == len(canon)
