"""Raw molecule sources and their official splits (QM9, MOSES, ZINC250k, a user's SMILES file).

Every reader returns :class:`RawSplits`: per split, the SMILES strings and the row id of each in its
source file. Nothing here parses chemistry; :mod:`graph_energy.data.build` does.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["RawSplits", "qm9_digress_split", "read_qm9", "read_moses", "read_zinc250k", "read_smiles_file",
           "random_split", "read_table", "package_data_dir", "QM9_NUM_GDB"]

log = logging.getLogger(__name__)

#: Number of molecules of the original GDB-9 enumeration of QM9 (ids 1..133,885).
QM9_NUM_GDB = 133_885
QM9_PACKAGE_HINT = "pip install qm9pack==1.0.3"
MOSES_PACKAGE_HINT = "pip install --no-deps molsets==0.3.1"


@dataclass
class RawSplits:
    """SMILES per split plus provenance.

    Attributes:
        smiles: ``{split: [smiles, ...]}``.
        source_index: ``{split: (k,) int64}`` row id of each SMILES in its source.
        info: facts worth reporting (rows read, missing ids, files).
    """

    smiles: dict[str, list[str]]
    source_index: dict[str, np.ndarray]
    info: dict = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return sum(len(v) for v in self.smiles.values())


def package_data_dir(package: str, *parts: str, hint: str) -> Path:
    """Folder inside an installed package, located without importing it (``find_spec`` of a
    top-level name does not execute the package)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not (spec.origin or spec.submodule_search_locations):
        raise ValueError(f"the data package {package!r} is not installed; install it with `{hint}` "
                         "(or pass a local file with dataset.path=...)")
    base = Path(spec.origin).parent if spec.origin else Path(list(spec.submodule_search_locations)[0])
    folder = base.joinpath(*parts)
    if not folder.is_dir():
        raise ValueError(f"{folder} is missing from the installed {package!r}; reinstall it with `{hint}`")
    return folder


def read_table(path: str | Path, columns: list[str] | None = None, **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` whose failures (missing, empty, truncated, wrong columns) become one-line
    ``ValueError``s naming the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist; check the path (dataset.path=...)")
    try:
        df = pd.read_csv(path, usecols=columns, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"data file {path} is empty; re-download or regenerate it") from None
    except (pd.errors.ParserError, EOFError, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"data file {path} is truncated or malformed ({type(err).__name__}: "
                         f"{str(err).strip().splitlines()[-1][:200]}); re-download or regenerate it") from None
    except ValueError as err:  # usecols mismatch
        if "Usecols" in str(err) or "columns expected" in str(err):
            head = pd.read_csv(path, nrows=0).columns.tolist()
            raise ValueError(f"data file {path} lacks column(s) {columns}; it has {head}") from None
        raise
    if len(df) == 0:
        raise ValueError(f"data file {path} has a header but no rows; re-download or regenerate it")
    return df


# ---------------------------------------------------------------------------------------------- QM9
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


def read_qm9(files: list[str | Path] | None = None, num_train: int = 100_000, seed: int = 42) -> RawSplits:
    """QM9 (implicit hydrogens) with the DiGress-family split.

    Reads only the ``Index`` (GDB id) and ``SMILES`` columns of ``qm9pack/data/qm9_part{1,2,3}.csv``
    (or of the given ``files``). Ids of the split that are absent from the files (the 3,054
    "uncharacterized" molecules) are dropped and counted. Within a split molecules keep GDB order.
    """
    if not files:
        folder = package_data_dir("qm9pack", "data", hint=QM9_PACKAGE_HINT)
        files = [folder / f"qm9_part{i}.csv" for i in (1, 2, 3)]
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


# -------------------------------------------------------------------------------------------- MOSES
def read_moses(folder: str | Path | None = None) -> RawSplits:
    """MOSES official files ``train``, ``test`` and ``test_scaffolds`` (``.csv.gz``, column ``SMILES``)."""
    folder = Path(folder) if folder else package_data_dir("moses", "dataset", "data", hint=MOSES_PACKAGE_HINT)
    smiles, idx = {}, {}
    for split in ("train", "test", "test_scaffolds"):
        df = read_table(folder / f"{split}.csv.gz", ["SMILES"])
        smiles[split] = df["SMILES"].fillna("").astype(str).tolist()
        idx[split] = np.arange(len(df), dtype=np.int64)
    return RawSplits(smiles, idx, {"rows_read": sum(len(v) for v in smiles.values()),
                                   "protocol": "MOSES official train/test/test_scaffolds"})


# ----------------------------------------------------------------------------------------- ZINC250k
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
                         "re-download it or pass dataset.test_idx_path=...") from None
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


# ------------------------------------------------------------------------------------- user files
def random_split(n: int, fractions: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Row indices of a seeded random split (numpy ``default_rng(seed).permutation``), sorted per split."""
    total = sum(fractions.values())
    if any(f < 0 for f in fractions.values()) or total <= 0:
        raise ValueError(f"split fractions must be non-negative with a positive sum, got {fractions}")
    perm = np.random.default_rng(seed).permutation(n)
    sizes = [int(round(n * f / total)) for f in fractions.values()]
    sizes[0] = n - sum(sizes[1:])
    out, start = {}, 0
    for name, k in zip(fractions, sizes):
        out[name] = np.sort(perm[start:start + k])
        start += k
    return out


def read_smiles_file(path: str | Path, smiles_column: str | None = None, split_column: str | None = None,
                     fractions: dict[str, float] | None = None, seed: int = 0) -> RawSplits:
    """A user's ``.smi``/``.txt`` (one SMILES per line, optional extra fields) or CSV file.

    With ``split_column`` the rows are grouped by its values (e.g. ``train``/``val``/``test``);
    otherwise a seeded random split with ``fractions`` (default 0.8/0.1/0.1).
    """
    path = Path(path)
    if path.suffix.lower() in (".smi", ".txt", ".smiles"):
        if not path.is_file():
            raise ValueError(f"data file {path} does not exist; check dataset.path")
        lines = path.read_text().splitlines()
        rows = [ln.split()[0] if ln.strip() else "" for ln in lines]
        if rows and rows[0].lower() in ("smiles", "smi"):
            rows = rows[1:]
        if not any(rows):
            raise ValueError(f"data file {path} holds no SMILES; one SMILES per line is expected")
        df = pd.DataFrame({"smiles": rows})
        smiles_column = "smiles"
    else:
        df = read_table(path)
        if smiles_column is None:
            cands = [c for c in df.columns if str(c).lower() in ("smiles", "smi", "smile")]
            if not cands:
                raise ValueError(f"cannot find a SMILES column in {path} (columns {df.columns.tolist()}); "
                                 "set dataset.smiles_column=<name>")
            smiles_column = cands[0]
        if smiles_column not in df.columns:
            raise ValueError(f"column {smiles_column!r} not in {path} (columns {df.columns.tolist()}); "
                             "set dataset.smiles_column=<name>")
    smiles = df[smiles_column].fillna("").astype(str).str.strip()
    if split_column is not None:
        if split_column not in df.columns:
            raise ValueError(f"split column {split_column!r} not in {path} (columns {df.columns.tolist()})")
        labels = df[split_column].astype(str).str.strip().str.lower()
        groups = {name: np.flatnonzero((labels == name).to_numpy()) for name in sorted(labels.unique())}
        if "train" not in groups:
            raise ValueError(f"split column {split_column!r} of {path} has no 'train' rows (values {sorted(groups)})")
        info_split = f"given split column {split_column!r}"
    else:
        groups = random_split(len(df), fractions or {"train": 0.8, "val": 0.1, "test": 0.1}, seed)
        info_split = f"random split seed {seed} fractions {fractions or {'train': 0.8, 'val': 0.1, 'test': 0.1}}"
    return RawSplits({k: smiles.iloc[v].tolist() for k, v in groups.items()},
                     {k: v.astype(np.int64) for k, v in groups.items()},
                     {"rows_read": len(df), "protocol": f"user file {path.name}, {info_split}"})
