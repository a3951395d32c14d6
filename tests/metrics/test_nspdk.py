import os
import subprocess
import sys

import pytest

pytest.importorskip("eden")

from graph_energy.metrics._util import parse_smiles  # noqa: E402
from graph_energy.metrics.nspdk import mol_to_nx, nspdk_mmd  # noqa: E402

A = ["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "ClC(Cl)Cl", "OCC(O)CO", "C1CCNCC1"]
B = ["CCCC", "CCN", "O=CO", "C#N", "CC=O", "CS"]


def test_self_zero_and_positive():
    assert nspdk_mmd(A, A, use_cache=False) == pytest.approx(0.0, abs=1e-12)
    assert nspdk_mmd(A, B, use_cache=False) > 0.01
    # order does not matter
    assert nspdk_mmd(A[::-1], A, use_cache=False) == pytest.approx(0.0, abs=1e-12)


def test_kekulized_integer_labels():
    g = mol_to_nx(parse_smiles("c1ccccc1"))
    assert sorted({d["label"] for _, _, d in g.edges(data=True)}) == [1, 2]
    assert {d["label"] for _, d in g.nodes(data=True)} == {1006}


def test_linear_kernel_identity():
    """mean K_XX + mean K_YY - 2 mean K_XY (GDSS formula) equals our mean-embedding form."""
    from graph_energy.metrics.nspdk import nspdk_features

    X, Y = nspdk_features(A), nspdk_features(B)
    k = lambda p, q: (p @ q.T).toarray().mean()  # noqa: E731
    assert nspdk_mmd(A, B, use_cache=False) == pytest.approx(k(X, X) + k(Y, Y) - 2 * k(X, Y), rel=1e-9)


def test_no_salted_hash_reaches_eden(monkeypatch):
    """EDeN hashes labels with ``hash``; string hashes are salted per process, int tuples are not."""
    import builtins

    import eden
    import eden.graph

    def checked_hash(x):
        stack = [x]
        while stack:
            item = stack.pop()
            if isinstance(item, tuple):
                stack.extend(item)
            else:
                assert not isinstance(item, (str, bytes)), f"salted hash of {item!r}"
        return builtins.hash(x)

    monkeypatch.setattr(eden.graph, "hash", checked_hash, raising=False)
    monkeypatch.setattr(eden, "hash", checked_hash, raising=False)
    assert nspdk_mmd(A, B, use_cache=False) > 0


@pytest.mark.slow
def test_independent_of_pythonhashseed():
    code = ("from graph_energy.metrics.nspdk import nspdk_mmd;"
            f"print(repr(nspdk_mmd({A!r}, {B!r}, use_cache=False)))")
    outs = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout.strip())
    assert len(outs) == 1
