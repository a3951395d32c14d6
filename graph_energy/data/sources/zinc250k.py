"""ZINC250k with the GDSS-family split, downloaded (with checksums) on first use or read from local copies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from graph_energy.data.download import RemoteFile, fetch
from graph_energy.data.sources.base import DatasetSource, RawSplits, plain, read_table

__all__ = ["Zinc250kSource", "read_zinc250k", "ZINC250K_CSV", "ZINC250K_TEST_IDX"]

#: The standard ZINC250k table (``smiles,logP,qed,SAS``; 249,455 rows) of the chemical VAE release.
ZINC250K_CSV = RemoteFile(
    "250k_rdkit.csv",
    ("https://raw.githubusercontent.com/aspuru-guzik-group/chemical_vae/master/models/zinc_properties/250k_rdkit.csv",),
    sha256=None,
)
#: Test-row indices of the GDSS-family ZINC250k split (a JSON list of 0-based CSV rows).
ZINC250K_TEST_IDX = RemoteFile(
    "valid_idx_zinc250k.json",
    ("https://raw.githubusercontent.com/harryjo97/GDSS/master/data/valid_idx_zinc250k.json",
     "https://raw.githubusercontent.com/divelab/DIG_storage/main/ggraph/valid_idx_zinc250k.json"),
    sha256=None,
)


def read_zinc250k(csv_path: str | Path, test_idx_path: str | Path) -> RawSplits:
    """ZINC250k with the GDSS-family split: rows listed in the test-index JSON are the test set.

    The CSV has columns ``smiles,logP,qed,SAS`` with a newline inside each quoted SMILES; the JSON is
    a list of 0-based row indices (or ``{"valid_idxs": [...]}``).
    """
    df = read_table(csv_path, ["smiles"])
    try:
        raw = json.loads(Path(test_idx_path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the ZINC250k test-index file {test_idx_path}: {err}; "
                         "re-download it or pass dataset.source.test_idx_path=...") from None
    if isinstance(raw, dict):
        raw = raw.get("valid_idxs", raw.get("test_idxs"))
    try:
        test = np.asarray([int(i) for i in raw], dtype=np.int64)
    except (TypeError, ValueError):
        raise ValueError(f"{test_idx_path} must hold a JSON list of row indices") from None
    if test.size and (test.min() < 0 or test.max() >= len(df)):
        raise ValueError(f"{test_idx_path} has row index {int(test.max())} outside the {len(df)} rows of {csv_path}")
    is_test = np.zeros(len(df), dtype=bool)
    is_test[test] = True
    smiles = df["smiles"].fillna("").astype(str).str.strip()
    rows = np.arange(len(df), dtype=np.int64)
    return RawSplits({"train": smiles[~is_test].tolist(), "test": smiles[is_test].tolist()},
                     {"train": rows[~is_test], "test": rows[is_test]},
                     {"rows_read": len(df), "protocol": "GDSS-family ZINC250k split (test-index JSON)"})


class Zinc250kSource(DatasetSource):
    """ZINC250k, GDSS-family split (test rows from ``valid_idx_zinc250k.json``; ``val`` aliases ``test``).

    Missing files are downloaded into ``<root>/zinc250k/raw``; offline, pass local copies.

    Args:
        path: local ``250k_rdkit.csv`` (columns ``smiles,logP,qed,SAS``).
        test_idx_path: local ``valid_idx_zinc250k.json``.
        sha256: expected checksums ``{"csv": ..., "test_idx": ...}`` (``None``: not checked, logged).
    """

    name = "zinc250k"

    def __init__(self, path: str | None = None, test_idx_path: str | None = None, sha256: dict | None = None):
        self.path = Path(str(path)).expanduser() if path else None
        self.test_idx_path = Path(str(test_idx_path)).expanduser() if test_idx_path else None
        self.sha256 = plain(sha256) or {}

    def files(self, root: Path) -> list[Path]:
        raw_dir = Path(root) / self.name / "raw"
        csv = self.path or fetch(ZINC250K_CSV, raw_dir, self.sha256.get("csv"), config_key="dataset.source.path")
        idx = self.test_idx_path or fetch(ZINC250K_TEST_IDX, raw_dir, self.sha256.get("test_idx"),
                                          config_key="dataset.source.test_idx_path")
        return [csv, idx]

    def read(self, files: list[Path]) -> RawSplits:
        csv, idx = files
        return read_zinc250k(csv, idx)

    def split_settings(self) -> dict:
        return {}
