import importlib.util

import numpy as np
import pytest

from graph_energy.metrics import moses as M
from graph_energy.metrics._util import parse_smiles

# the molsets package must never be imported (broken on current pandas): check with find_spec only
pytestmark = pytest.mark.skipif(importlib.util.find_spec("moses") is None, reason="molsets wheel not installed")


@pytest.mark.parametrize("smiles,ok", [
    ("CC(=O)Nc1ccc(O)cc1", True),           # paracetamol
    ("CCOC(=O)c1ccccc1", True),
    ("C[N+](C)(C)C", False),                 # charged
    ("CCP(=O)(O)O", False),                  # P not allowed
    ("C1CCCCCCC1", False),                   # 8-membered ring
    ("CC=CC#N", False),                      # MCF1: acyclic C=C-C#N (Michael acceptor)
    ("O=C1C=CC(=O)C=C1", False),             # quinone (PAINS/MCF)
    ("CCI", False),                          # iodine not allowed
])
def test_filters_known(smiles, ok):
    assert M.passes_filters(parse_smiles(smiles)) is ok


def test_filters_fraction_and_patterns():
    assert len(M.filter_patterns()) > 400
    assert M.filters(["CC(=O)Nc1ccc(O)cc1", "CCI"]) == pytest.approx(0.5)


def test_snn_intdiv_known():
    s = ["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1"]
    fps = M.fingerprints(s)
    assert fps.shape == (3, 1024) and set(np.unique(fps)) <= {0, 1}
    assert M.snn(fps, fps) == pytest.approx(1.0)
    same = M.fingerprints(["CCO"] * 4)
    assert M.internal_diversity(same) == pytest.approx(0.0)
    a, b = fps[:1].astype(float), fps[1:2].astype(float)
    t = (a @ b.T).item() / (a.sum() + b.sum() - (a @ b.T).item())
    pair = fps[:2]
    assert M.internal_diversity(pair) == pytest.approx(1 - (1 + 1 + 2 * t) / 4)
    assert 0 < M.internal_diversity(fps, 2) < 1


def test_morgan_bits_match_legacy_api():
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    mol = parse_smiles("CC(=O)Nc1ccc(O)cc1")
    fp = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024).GetFingerprint(mol)
    arr = np.zeros(1024, dtype=np.uint8)
    DataStructs.ConvertToNumpyArray(fp, arr)
    np.testing.assert_array_equal(M.fingerprints(["CC(=O)Nc1ccc(O)cc1"])[0], arr)


def test_frag_scaf():
    s = ["CC(=O)Nc1ccc(O)cc1", "c1ccc2ccccc2c1", "O=C(c1ccccc1)N1CCCC1", "CCO"]
    fc, sc = M.fragment_counts(s), M.scaffold_counts(s)
    assert M.cosine_similarity(fc, fc) == pytest.approx(1.0)
    assert set(sc) == {"c1ccc2ccccc2c1", "O=C(c1ccccc1)N1CCCC1"}  # >= 2 rings only
    assert M.cosine_similarity({"a": 1}, {"b": 2}) == 0.0
    assert np.isnan(M.cosine_similarity({}, {"b": 2}))
