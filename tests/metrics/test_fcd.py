import numpy as np
import pytest

from graph_energy.metrics import fcd as fcd_mod
from graph_energy.metrics.fcd import GaussianStats, chemnet_activations, frechet_distance, gaussian_stats

pytest.importorskip("fcd")

SET_A = ["CCO", "CCN", "CCC", "CC(C)O", "OCCO", "CC(=O)O", "CCOC", "CNC", "CC#N", "C1CCCC1", "C1CCOC1",
         "c1ccccc1", "c1ccncc1", "Cc1ccccc1", "Oc1ccccc1", "CC(N)=O", "NCCO", "CCCCO", "COC(C)=O", "C=CC=O",
         "C1CC1", "OC1CC1", "CN(C)C", "C#CC", "CC(C)(C)O"]
SET_B = ["O=C1NC(=O)c2ccccc21", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
         "Clc1ccc(Cl)cc1", "FC(F)(F)c1ccccc1", "O=[N+]([O-])c1ccccc1", "CCCCCCCCCCCC", "c1ccc2ccccc2c1",
         "CC(=O)Oc1ccccc1C(=O)O", "NC(=O)c1cccnc1", "BrCCBr", "S=C(N)N", "CSC", "OCC(O)CO", "ClCCl",
         "c1ccsc1", "c1ccoc1", "CC(C)NCC(O)COc1ccccc1", "O=S(=O)(O)O", "CCOP(=O)(OC)OC", "IC", "C1CCNCC1",
         "c1cnc2ccccc2n1", "CCN(CC)CC", "OC(=O)CCC(=O)O"]


def test_activations_match_fcd_package():
    from fcd import load_ref_model
    from fcd.utils import SmilesDataset

    model = load_ref_model()
    ds = SmilesDataset(SET_A[:8])
    import torch

    x = torch.stack([torch.as_tensor(ds[i]) for i in range(len(ds))]).float()
    with torch.no_grad():
        ref = model(x.transpose(1, 2)).numpy()
    ours = chemnet_activations(SET_A[:8], batch_size=3)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_self_distance_zero_and_grows(monkeypatch):
    # numpy >= 2.5 removed row_stack: our path must not need it
    if hasattr(np, "row_stack"):
        monkeypatch.delattr(np, "row_stack")
    assert fcd_mod.fcd(SET_A, SET_A, use_cache=False) == pytest.approx(0.0, abs=1e-6)
    act_a, act_b = chemnet_activations(SET_A), chemnet_activations(SET_B)
    ref = gaussian_stats(act_a)
    near = frechet_distance(gaussian_stats(np.concatenate([act_a[:20], act_a[:5]])), ref)
    far = frechet_distance(gaussian_stats(act_b), ref)
    assert 0 < near < far


def test_sqrtm_and_eigh_agree_with_reference_formula():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 12)), 1.3 * rng.normal(size=(90, 12)) + 0.2
    a, b = gaussian_stats(x), gaussian_stats(y)
    d_sqrtm = frechet_distance(a, b, method="sqrtm")
    d_eigh = frechet_distance(a, b, method="eigh")
    # closed form for commuting covariances: diagonal case
    da = GaussianStats(np.zeros(3), np.diag([1.0, 4.0, 9.0]), 100)
    db = GaussianStats(np.ones(3), np.diag([4.0, 1.0, 1.0]), 100)
    expected = 3 + (1 + 4 + 9 + 4 + 1 + 1) - 2 * (2 + 2 + 3)
    assert frechet_distance(da, db) == pytest.approx(expected)
    assert d_sqrtm == pytest.approx(d_eigh, rel=1e-8)
    with pytest.raises(ValueError, match="method"):
        frechet_distance(a, b, method="nope")


def test_reference_stats_cached_by_content(tmp_path):
    st1 = fcd_mod.reference_stats(SET_A[:6])
    files = list((tmp_path / "cache" / "fcd").glob("*.npz"))
    assert len(files) == 1 and files[0].stem == fcd_mod.smiles_key(SET_A[:6], fcd_mod._CACHE_VERSION)
    st2 = fcd_mod.reference_stats(SET_A[:6])
    np.testing.assert_array_equal(st1.mu, st2.mu)
    fcd_mod.reference_stats(SET_A[1:7])
    assert len(list((tmp_path / "cache" / "fcd").glob("*.npz"))) == 2


def test_deterministic():
    a = chemnet_activations(SET_B[:5])
    b = chemnet_activations(SET_B[:5])
    np.testing.assert_array_equal(a, b)
