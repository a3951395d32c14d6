"""Reading SMILES sample files: one SMILES per line (optionally ``SMILES name``) or a CSV column."""

from __future__ import annotations

import gzip
from pathlib import Path

__all__ = ["read_smiles"]

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _read_csv_column(path: Path, column: str | None) -> list[str]:
    import pandas as pd

    sep = "\t" if ".tsv" in path.name else ","
    try:
        # bytes that are not UTF-8 make that row an invalid sample (as in plain files), not a rejected file
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise ValueError(f"samples file {path} is empty; it must contain SMILES") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as err:
        raise ValueError(f"samples file {path} is not a readable CSV ({type(err).__name__}); "
                         "pass a plain SMILES file or fix the CSV") from None
    cols = list(df.columns)
    if column is None:
        matches = [c for c in cols if str(c).strip().lower() == "smiles"]
        if not matches:
            raise ValueError(f"samples file {path} has no 'smiles' column (columns: {cols}); "
                             "pass column=NAME")
        column = matches[0]
    elif column not in cols:
        raise ValueError(f"column {column!r} not in samples file {path} (columns: {cols}); pass column=NAME")
    values = df[column].tolist()
    if not values:
        raise ValueError(f"samples file {path} has a header but no rows")
    return [str(v) for v in values]


def read_smiles(path: str | Path, column: str | None = None) -> list[str]:
    """Samples of a file, one entry per generated molecule, in file order.

    * ``.csv``/``.tsv`` files (optionally gzipped), or any file when ``column`` is given: the
      ``column`` (default: a column named ``smiles``, any case).
    * otherwise: one sample per line, the first whitespace-separated token; a blank line inside the
      file is an (invalid) empty sample, trailing blank lines are ignored; a first line reading
      ``smiles`` is taken as a header.

    Entries are returned as strings and are not parsed here (unparsable ones count as invalid).
    Raises ``ValueError`` (missing/empty file, missing column) with a message naming the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"samples file {path} does not exist; pass samples=PATH to a SMILES file")
    if column is not None or path.name.lower().endswith(_CSV_SUFFIXES):
        return _read_csv_column(path, column)
    with _open_text(path) as fh:
        lines = fh.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[0].strip().lower() == "smiles":
        lines = lines[1:]
    if not lines:
        raise ValueError(f"samples file {path} is empty; it must contain one SMILES per line")
    return [ln.split()[0] if ln.strip() else "" for ln in lines]
