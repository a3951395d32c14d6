"""Shared pieces of the property benchmarks: QM9 splits with labels, FCD on small sets, timing, JSON output."""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "results"

#: QM9 label columns of the qm9pack CSVs, by the short names the property objective uses.
QM9_LABELS = {"mu": "Dipole_debye", "homo": "HOMO_au", "lumo": "LUMO_au", "gap": "HOMO_LUMO_gap_au",
              "alpha": "Polarizability_bohr3", "cv": "Heatcapacity_Cv_cal_mol_K"}
HARTREE_EV = 27.211386245988


def qm9_splits() -> dict[str, list[str]]:
    """SMILES of the QM9 splits (DiGress-family split, raw SMILES as in the files)."""
    from graph_energy.data.sources.qm9 import read_qm9

    return read_qm9().smiles


def qm9_labelled_split(split: str, columns: list[str]) -> tuple[list[str], dict[str, np.ndarray]]:
    """SMILES of one QM9 split and the requested label columns (short names of :data:`QM9_LABELS`)."""
    import pandas as pd

    from graph_energy.data.sources.base import read_table
    from graph_energy.data.sources.qm9 import _package_files, qm9_digress_split

    frames = [read_table(f, ["Index", "SMILES", *[QM9_LABELS[c] for c in columns]]) for f in _package_files()]
    df = pd.concat(frames, ignore_index=True).set_index("Index").sort_index()
    ids = np.sort(qm9_digress_split()[split])
    ids = ids[np.isin(ids, df.index.values)]
    sub = df.loc[ids]
    return sub["SMILES"].astype(str).tolist(), {c: sub[QM9_LABELS[c]].to_numpy(np.float64) for c in columns}


def canonical(smiles: list[str | None]) -> list[str]:
    from graph_energy.chem.convert import canonical_smiles

    out = []
    for s in smiles:
        c = canonical_smiles(s) if s else None
        if c:
            out.append(c)
    return out


def fcd_or_none(generated: list[str], reference: list[str]) -> float | None:
    """FCD between two SMILES sets (``None`` when either has fewer than 2 molecules or ChemNet is missing)."""
    if len(generated) < 2 or len(reference) < 2:
        return None
    try:
        from graph_energy.metrics.fcd import fcd
    except ImportError:
        return None
    value = fcd(generated, reference)
    return None if not math.isfinite(value) else float(value)


def environment() -> dict:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "machine": platform.machine(),
            "threads": torch.get_num_threads(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(v):
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.floating, float)):
            return None if not math.isfinite(float(v)) else float(v)
        if isinstance(v, np.integer):
            return int(v)
        return v

    path.write_text(json.dumps(clean(payload), indent=2) + "\n")
