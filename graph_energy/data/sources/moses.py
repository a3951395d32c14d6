"""MOSES official splits from the ``molsets`` wheel's data files (the package is never imported)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graph_energy.data.sources.base import DatasetSource, RawSplits, package_data_dir, read_table

__all__ = ["MosesSource", "read_moses", "MOSES_PACKAGE_HINT", "MOSES_SPLITS"]

MOSES_PACKAGE_HINT = "pip install --no-deps molsets==0.3.1"
MOSES_SPLITS = ("train", "test", "test_scaffolds")


def _package_folder() -> Path:
    return package_data_dir("moses", "dataset", "data", hint=MOSES_PACKAGE_HINT)


def read_moses(folder: str | Path | None = None) -> RawSplits:
    """MOSES official files ``train``, ``test`` and ``test_scaffolds`` (``.csv.gz``, column ``SMILES``)."""
    folder = Path(folder) if folder else _package_folder()
    smiles, idx = {}, {}
    for split in MOSES_SPLITS:
        df = read_table(folder / f"{split}.csv.gz", ["SMILES"])
        smiles[split] = df["SMILES"].fillna("").astype(str).tolist()
        idx[split] = np.arange(len(df), dtype=np.int64)
    return RawSplits(smiles, idx, {"rows_read": sum(len(v) for v in smiles.values()),
                                   "protocol": "MOSES official train/test/test_scaffolds"})


class MosesSource(DatasetSource):
    """MOSES official splits ``train`` / ``test`` / ``test_scaffolds`` (``val`` aliases ``test``).

    Args:
        path: folder with ``train.csv.gz``, ``test.csv.gz``, ``test_scaffolds.csv.gz`` (default: the
            ``molsets`` files, which also ship precomputed reference statistics).
    """

    name = "moses"
    raw_references = True

    def __init__(self, path: str | None = None):
        self.path = Path(str(path)).expanduser() if path else None

    def _folder(self) -> Path:
        return self.path or _package_folder()

    def files(self, root: Path) -> list[Path]:
        folder = self._folder()
        return [folder / f"{s}.csv.gz" for s in MOSES_SPLITS]

    def read(self, files: list[Path]) -> RawSplits:
        return read_moses(files[0].parent if files else self._folder())

    def split_settings(self) -> dict:
        return {}

    def reference_statistics(self, split: str) -> Path | None:
        """``<split>_stats.npz`` of the ``molsets`` wheel (only for its own files, not for ``path``)."""
        return None if self.path else _package_folder() / f"{split}_stats.npz"
