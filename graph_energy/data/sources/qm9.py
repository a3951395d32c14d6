"""QM9 (implicit hydrogens) from the ``qm9pack`` wheel with the DiGress-family split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graph_energy.data.sources.base import DatasetSource, RawSplits, as_paths, package_data_dir, read_table

__all__ = ["QM9Source", "qm9_digress_split", "read_qm9", "read_qm9_labels", "QM9_NUM_GDB", "QM9_PACKAGE_HINT",
           "QM9_LABELS"]

#: Number of molecules of the original GDB-9 enumeration of QM9 (ids 1..133,885).
QM9_NUM_GDB = 133_885
QM9_PACKAGE_HINT = "pip install qm9pack==1.0.3"


def qm9_digress_split(num_total: int = QM9_NUM_GDB, num_train: int = 100_000, seed: int = 42
                      ) -> dict[str, np.ndarray]:
    """GDB ids (1-based) of the DiGress-family QM9 split, before dropping absent molecules.

    The reference shuffles the full 133,885-row QM9 property table (row ``k`` = GDB id ``k + 1``,
    RangeIndex 0..133,884) with ``DataFrame.sample(frac=1, random_state=42)`` and cuts the shuffled
    rows into 100,000 train, ``num_total - 100,000 - int(0.1 num_total)`` = 20,497 val and
    ``int(0.1 num_total)`` = 13,388 test. ``sample`` permutes positions with
    ``numpy.random.RandomState(seed)`` and depends only on the number of rows, so shuffling an
    empty frame with the same RangeIndex gives the identical order.
    """
    order = pd.DataFrame(index=pd.RangeIndex(num_total)).sample(frac=1, random_state=seed).index.to_numpy()
    num_test = int(0.1 * num_total)
    num_val = num_total - num_train - num_test
    if num_val < 0:
        raise ValueError(f"num_train {num_train} too large for {num_total} molecules")
    cut = [num_train, num_train + num_val]
    train, val, test = np.split(order, cut)
    return {"train": train + 1, "val": val + 1, "test": test + 1}


#: Label name -> column of the qm9pack CSVs (units: Debye, hartree, hartree, hartree, bohr^3, cal/(mol K)).
QM9_LABELS = {"mu": "Dipole_debye", "homo": "HOMO_au", "lumo": "LUMO_au", "gap": "HOMO_LUMO_gap_au",
              "alpha": "Polarizability_bohr3", "cv": "Heatcapacity_Cv_cal_mol_K"}


def read_qm9_labels(files: list[str | Path], names: list[str]) -> pd.DataFrame:
    """QM9 labels ``names`` (keys of :data:`QM9_LABELS`) indexed by GDB id."""
    unknown = [n for n in names if n not in QM9_LABELS]
    if unknown:
        raise ValueError(f"unknown QM9 label(s) {unknown}; available: {sorted(QM9_LABELS)}")
    cols = [QM9_LABELS[n] for n in names]
    df = pd.concat([read_table(f, ["Index", *cols]) for f in files], ignore_index=True)
    out = df.set_index("Index")[cols].astype(np.float64)
    out.columns = list(names)
    return out


def _package_files() -> list[Path]:
    folder = package_data_dir("qm9pack", "data", hint=QM9_PACKAGE_HINT)
    return [folder / f"qm9_part{i}.csv" for i in (1, 2, 3)]


def read_qm9(files: list[str | Path] | None = None, num_train: int = 100_000, seed: int = 42) -> RawSplits:
    """QM9 (implicit hydrogens) with the DiGress-family split.

    Reads only the ``Index`` (GDB id) and ``SMILES`` columns of ``qm9pack/data/qm9_part{1,2,3}.csv``
    (or of the given ``files``). Ids of the split that are absent from the files (the 3,054
    "uncharacterized" molecules) are dropped and counted. Within a split molecules keep GDB order.
    """
    files = files or _package_files()
    frames = [read_table(f, ["Index", "SMILES"]) for f in files]
    df = pd.concat(frames, ignore_index=True)
    if df["Index"].duplicated().any():
        dup = df.loc[df["Index"].duplicated(), "Index"].iloc[0]
        raise ValueError(f"QM9 files {[str(f) for f in files]} repeat GDB id {dup}; pass each part once")
    bad = df[(df["Index"] < 1) | (df["Index"] > QM9_NUM_GDB)]
    if len(bad):
        raise ValueError(f"QM9 GDB id {int(bad['Index'].iloc[0])} outside 1..{QM9_NUM_GDB}; wrong file?")
    smiles_of = pd.Series(df["SMILES"].fillna("").astype(str).values, index=df["Index"].values).sort_index()
    ids = qm9_digress_split(QM9_NUM_GDB, num_train, seed)
    out_smiles, out_idx, missing = {}, {}, {}
    for split, gdb in ids.items():
        gdb = np.sort(gdb)
        present = np.isin(gdb, smiles_of.index.values)
        missing[split] = int((~present).sum())
        keep = gdb[present]
        out_idx[split] = keep.astype(np.int64)
        out_smiles[split] = smiles_of.loc[keep].tolist()
    info = {"rows_read": len(df), "files": [Path(f).name for f in files],
            "split_before_drop": {k: len(v) for k, v in ids.items()}, "missing_gdb_ids": missing,
            "protocol": "DiGress-family QM9 split (DataFrame.sample(frac=1, random_state=42) of 133,885 GDB ids)"}
    return RawSplits(out_smiles, out_idx, info)


class QM9Source(DatasetSource):
    """QM9 without hydrogens, DiGress-family split (100,000 / 20,497 / 13,388 GDB ids, then the 3,054
    absent "uncharacterized" ids are dropped: 97,734 / 20,042 / 13,055 molecules).

    Args:
        path: CSV file(s) with ``Index`` (GDB id) and ``SMILES`` columns (default: the ``qm9pack`` files).
        seed: split seed (``DataFrame.sample`` random state).
        num_train: GDB ids in the training split before the drop.
    """

    name = "qm9"
    raw_references = True

    def __init__(self, path: str | list[str] | None = None, seed: int = 42, num_train: int = 100_000):
        self.path = as_paths(path)
        self.seed = 42 if seed is None else int(seed)
        self.num_train = int(num_train or 100_000)

    def files(self, root: Path) -> list[Path]:
        return self.path or _package_files()

    def read(self, files: list[Path]) -> RawSplits:
        return read_qm9(files, self.num_train, self.seed)

    def split_settings(self) -> dict:
        return {"seed": self.seed, "num_train": self.num_train}

    def read_labels(self, files: list[Path], names: list[str]) -> pd.DataFrame:
        """The QM9 labels ``names`` (``mu``, ``homo``, ``lumo``, ``gap``, ``alpha``, ``cv``) by GDB id."""
        return read_qm9_labels(files, list(names))
