"""Scalar molecular properties used by the evaluation: logP, QED, SA score, molecular weight.

The SA score (Ertl & Schuffenhauer, J. Cheminf. 2009) comes from RDKit's Contrib ``SA_Score``
module, which ships with the RDKit wheel; it is located through ``RDConfig.RDContribDir`` so that
it works whether or not ``rdkit.Contrib`` is importable as a package.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors

__all__ = ["logp", "qed", "sa_score", "mol_weight", "PROPERTIES", "compute_properties"]


@lru_cache(maxsize=1)
def _sascorer():
    try:
        from rdkit.Contrib.SA_Score import sascorer  # type: ignore[import-not-found]

        return sascorer
    except ImportError:
        pass
    from rdkit import RDConfig

    path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
    if not os.path.exists(path):
        raise ImportError(
            f"RDKit Contrib SA_Score not found at {path!r}; install an RDKit build that ships Contrib "
            "(the PyPI 'rdkit' wheel does)"
        )
    spec = importlib.util.spec_from_file_location("_gem_sascorer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def logp(mol: Chem.Mol) -> float:
    """Wildman–Crippen logP."""
    return float(Crippen.MolLogP(mol))


def qed(mol: Chem.Mol) -> float:
    """Quantitative estimate of drug-likeness (Bickerton et al. 2012), in [0, 1]."""
    return float(QED.qed(mol))


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility score (Ertl & Schuffenhauer 2009), 1 (easy) … 10 (hard)."""
    return float(_sascorer().calculateScore(mol))


def mol_weight(mol: Chem.Mol) -> float:
    """Average molecular weight (g/mol), implicit hydrogens included."""
    return float(Descriptors.MolWt(mol))


PROPERTIES = {"logP": logp, "QED": qed, "SA": sa_score, "MW": mol_weight}


def compute_properties(mol: Chem.Mol) -> dict[str, float]:
    """All of :data:`PROPERTIES` for one molecule; a property that fails is ``nan``."""
    out = {}
    for name, fn in PROPERTIES.items():
        try:
            out[name] = fn(mol)
        except Exception:  # noqa: BLE001 - RDKit descriptors raise assorted errors on odd molecules
            out[name] = float("nan")
    return out
