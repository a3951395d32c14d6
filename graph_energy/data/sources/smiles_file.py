"""A user's own molecules: a ``.smi``/``.txt`` file (one SMILES per line) or a CSV, with a random or given split."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from graph_energy.data.sources.base import (
    NON_UTF8,
    DatasetSource,
    RawSplits,
    check_data_file,
    plain,
    read_table,
)

__all__ = ["SmilesFileSource", "read_smiles_file", "random_split", "DEFAULT_FRACTIONS"]

DEFAULT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}

log = logging.getLogger(__name__)


def random_split(n: int, fractions: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Row indices of a seeded random split (numpy ``default_rng(seed).permutation``), sorted per split.

    The first split takes the rounding remainder, so the sizes always sum to ``n``.
    """
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
    otherwise a seeded random split with ``fractions`` (default 0.8/0.1/0.1). Rows that are not valid
    UTF-8 stay in their split (so the split of every other row is unchanged) and are counted as
    ``encoding`` drops; ``info["non_utf8_rows"]`` counts them and the file is named in a warning.
    """
    path = Path(path)
    check_data_file(path, "dataset.source.path")
    if path.suffix.lower() in (".smi", ".txt", ".smiles"):
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
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
                                 "set dataset.source.smiles_column=<name>")
            smiles_column = cands[0]
        if smiles_column not in df.columns:
            raise ValueError(f"column {smiles_column!r} not in {path} (columns {df.columns.tolist()}); "
                             "set dataset.source.smiles_column=<name>")
    smiles = df[smiles_column].fillna("").astype(str).str.strip()
    non_utf8 = np.flatnonzero(smiles.str.contains(NON_UTF8, regex=False).to_numpy())
    if len(non_utf8):
        log.warning("%s: %d row(s) are not valid UTF-8 (first at data row %d); they are dropped and counted as "
                    "'encoding'", path.name, len(non_utf8), int(non_utf8[0]) + 1)
    if split_column is not None:
        if split_column not in df.columns:
            raise ValueError(f"split column {split_column!r} not in {path} (columns {df.columns.tolist()})")
        labels = df[split_column].astype(str).str.strip().str.lower()
        groups = {name: np.flatnonzero((labels == name).to_numpy()) for name in sorted(labels.unique())}
        if "train" not in groups:
            raise ValueError(f"split column {split_column!r} of {path} has no 'train' rows (values {sorted(groups)})")
        info_split = f"given split column {split_column!r}"
    else:
        groups = random_split(len(df), fractions or DEFAULT_FRACTIONS, seed)
        info_split = f"random split seed {seed} fractions {fractions or DEFAULT_FRACTIONS}"
    return RawSplits({k: smiles.iloc[v].tolist() for k, v in groups.items()},
                     {k: v.astype(np.int64) for k, v in groups.items()},
                     {"rows_read": len(df), "non_utf8_rows": int(len(non_utf8)), "file": path.name,
                      "protocol": f"user file {path.name}, {info_split}"})


class SmilesFileSource(DatasetSource):
    """Your own molecules from one file.

    Args:
        path: a ``.smi``/``.txt``/``.smiles`` file (one SMILES per line, optional extra fields) or a CSV.
        smiles_column: CSV column of the SMILES (default: a column named smiles/smi/smile).
        split_column: CSV column with ``train``/``val``/``test`` labels; ``None``: a seeded random split.
        split_fractions: ``{split: fraction}`` of the random split (default 0.8/0.1/0.1; the first split
            takes the rounding remainder).
        seed: random-split seed.
    """

    name = "smiles"

    def __init__(self, path: str | None = None, smiles_column: str | None = None, split_column: str | None = None,
                 split_fractions: dict[str, float] | None = None, seed: int = 0):
        if not path:
            raise ValueError("dataset 'smiles' needs a file: pass dataset.source.path=<file.smi|file.csv>")
        self.path = Path(str(path)).expanduser()
        self.smiles_column = smiles_column
        self.split_column = split_column
        self.split_fractions = None if split_column else (plain(split_fractions) or dict(DEFAULT_FRACTIONS))
        self.seed = seed or 0

    def files(self, root: Path) -> list[Path]:
        return [self.path]

    def default_policy(self):
        """A user's file: organic elements only, salts reduced to their largest fragment, isotope labels
        stripped, explicit hydrogens folded (:data:`USER_FILE_POLICY`)."""
        return USER_FILE_POLICY

    def read(self, files: list[Path]) -> RawSplits:
        return read_smiles_file(files[0], self.smiles_column, self.split_column, self.split_fractions, self.seed)

    def split_settings(self) -> dict:
        return {"seed": self.seed, "smiles_column": self.smiles_column, "split_column": self.split_column,
                "split_fractions": self.split_fractions}


def _user_file_policy():
    from graph_energy.data.policy import ORGANIC_ELEMENTS, MoleculePolicy

    return MoleculePolicy(elements=ORGANIC_ELEMENTS, fragments="largest", isotopes="strip", hydrogens="implicit")


#: The default rules for a user's SMILES file (every drop and change is counted in the report).
USER_FILE_POLICY = _user_file_policy()
