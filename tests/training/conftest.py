"""Shared helpers for the training tests: a tiny SMILES dataset and config composition."""

from __future__ import annotations

import pytest

SMILES = """CCO CC(=O)O c1ccccc1 CCN CC(C)O OCC(O)CO CC#N C1CCCCC1 CC(=O)N COC CCOC(C)=O c1ccncc1 CC(C)(C)O
NCC(=O)O CC=O C=CC=C OC1CCCC1 Cc1ccccc1 CN(C)C FC(F)F O=C=O CCCC CCCCO CC(N)C(=O)O c1ccoc1 c1cc[nH]c1
CCC#C CC(C)C C1CC1 C1COC1 OCCO NC(=O)N CC(C)=O COc1ccccc1 CC[N+](C)(C)C CC(=O)[O-] C[N+](=O)[O-] CCCN
CC(O)C(=O)O OC1CCOC1 CC1CC1 NCCO CCOCC OC(=O)CO""".split()


@pytest.fixture
def smiles_file(tmp_path, monkeypatch):
    """A small SMILES file (44 molecules) and a private data cache."""
    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    p = tmp_path / "mols.smi"
    p.write_text("\n".join(SMILES) + "\n")
    return p
