"""MOSES metrics (Polykovskiy et al. 2020) reimplemented on current RDKit/NumPy.

Definitions follow the MOSES paper and its MIT-licensed reference code: Filters (MCF + PAINS
SMARTS, allowed atoms C,N,S,O,F,Cl,Br,H, no formal charges, no ring of 8 or more atoms), SNN (mean
over generated molecules of the max Tanimoto similarity to the reference, Morgan r=2, 1024 bits),
Frag (cosine similarity of BRICS fragment counts), Scaf (cosine similarity of Bemis–Murcko
scaffold counts, scaffolds with at least 2 rings), IntDiv_p (``1 − (mean_{x,y} T(x,y)^p)^{1/p}``
over all ordered pairs of generated molecules, self-pairs included).

The SMARTS files are read from the installed ``molsets`` wheel (located with
``importlib.util.find_spec`` so that the broken ``moses`` package is never imported).
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import os
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from graph_energy.metrics._util import parallel_map, parse_smiles

__all__ = ["moses_data_dir", "filter_patterns", "passes_filters", "filters", "fingerprints", "snn",
           "fragment_counts", "scaffold_counts", "cosine_similarity", "frag_similarity",
           "scaf_similarity", "internal_diversity", "ALLOWED_ATOMS"]

log = logging.getLogger(__name__)

ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
FP_BITS = 1024


def moses_data_dir(sub: str = "") -> str:
    """Folder of the installed ``molsets`` package (``moses/<sub>``), without importing it."""
    spec = importlib.util.find_spec("moses")
    if spec is None or spec.origin is None:
        raise ImportError("the 'molsets' wheel is not installed: pip install --no-deps molsets==0.3.1")
    return os.path.join(os.path.dirname(spec.origin), sub)


@lru_cache(maxsize=1)
def filter_patterns() -> tuple:
    """Compiled MCF + PAINS SMARTS patterns."""
    folder = moses_data_dir("metrics")
    smarts = []
    with open(os.path.join(folder, "mcf.csv"), newline="") as fh:
        smarts += [row["smarts"] for row in csv.DictReader(fh)]
    with open(os.path.join(folder, "wehi_pains.csv"), newline="") as fh:
        smarts += [row[0] for row in csv.reader(fh) if row]
    patterns = []
    for s in smarts:
        pat = Chem.MolFromSmarts(s.strip())
        if pat is None:
            raise ValueError(f"cannot compile filter SMARTS {s!r}")
        patterns.append(pat)
    return tuple(patterns)


def passes_filters(mol: Chem.Mol | None) -> bool:
    """MOSES ``mol_passes_filters``: rings < 8 atoms, uncharged, allowed atoms, no MCF/PAINS match."""
    if mol is None:
        return False
    if any(len(r) >= 8 for r in mol.GetRingInfo().AtomRings()):
        return False
    if any(a.GetFormalCharge() != 0 for a in mol.GetAtoms()):
        return False
    if any(a.GetSymbol() not in ALLOWED_ATOMS for a in mol.GetAtoms()):
        return False
    h_mol = Chem.AddHs(mol)
    if any(h_mol.HasSubstructMatch(p) for p in filter_patterns()):
        return False
    smi = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smi) and Chem.MolFromSmiles(smi) is not None


def _filters_chunk(smiles: Sequence[str]) -> list[bool]:
    return [passes_filters(parse_smiles(s)) for s in smiles]


def filters(smiles: Sequence[str], n_jobs: int | None = None, progress: bool = False) -> float:
    """Fraction of (valid) molecules passing :func:`passes_filters`."""
    if not smiles:
        return float("nan")
    ok = parallel_map(_filters_chunk, list(smiles), n_jobs=n_jobs, chunk_size=1000, progress=progress,
                      desc="Filters")
    return float(np.mean(ok))


@lru_cache(maxsize=1)
def _morgan():
    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FP_BITS)


def _fp_chunk(smiles: Sequence[str]) -> list[np.ndarray]:
    gen = _morgan()
    out = []
    for s in smiles:
        mol = parse_smiles(s)
        fp = np.zeros(FP_BITS, dtype=np.uint8) if mol is None else gen.GetFingerprintAsNumPy(mol).astype(np.uint8)
        out.append(np.packbits(fp))
    return out


def fingerprints(smiles: Sequence[str], n_jobs: int | None = None, progress: bool = False) -> np.ndarray:
    """Morgan r=2 1024-bit fingerprints ``(n, 1024)`` uint8 (0/1); unparsable SMILES give zeros."""
    packed = parallel_map(_fp_chunk, list(smiles), n_jobs=n_jobs, chunk_size=2000, progress=progress,
                          desc="fingerprints")
    if not packed:
        return np.zeros((0, FP_BITS), dtype=np.uint8)
    return np.unpackbits(np.stack(packed), axis=1)[:, :FP_BITS]


def _tanimoto_agg(ref: np.ndarray, gen: np.ndarray, agg: str, p: float = 1.0, block: int = 4096) -> np.ndarray:
    """Per generated molecule: max (``agg="max"``) or mean of ``T^p`` over reference fingerprints.

    ``ref (m, 1024)``, ``gen (n, 1024)`` 0/1 arrays; Tanimoto of two empty fingerprints is 1.
    """
    import torch

    g = torch.from_numpy(gen.astype(np.float32))
    g_cnt = g.sum(1)
    acc = torch.zeros(len(gen), dtype=torch.float64)
    for start in range(0, len(ref), block):
        r = torch.from_numpy(ref[start:start + block].astype(np.float32))
        inter = r @ g.T
        union = r.sum(1, keepdim=True) + g_cnt[None, :] - inter
        jac = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(inter))
        if p != 1:
            jac = jac ** p
        if agg == "max":
            acc = torch.maximum(acc, jac.max(0).values.double())
        else:
            acc += jac.double().sum(0)
    if agg == "mean":
        acc /= len(ref)
    return acc.numpy()


def snn(gen_fps: np.ndarray, ref_fps: np.ndarray) -> float:
    """Similarity to nearest neighbour: mean over generated of max Tanimoto to the reference."""
    if len(gen_fps) == 0 or len(ref_fps) == 0:
        return float("nan")
    return float(_tanimoto_agg(ref_fps, gen_fps, "max").mean())


def internal_diversity(gen_fps: np.ndarray, p: int = 1) -> float:
    """IntDiv_p = 1 − mean over generated x of ``(mean_y T(x,y)^p)^{1/p}`` (MOSES definition)."""
    if len(gen_fps) == 0:
        return float("nan")
    per = _tanimoto_agg(gen_fps, gen_fps, "mean", p=p)
    return float(1.0 - (per ** (1.0 / p)).mean())


def _frag_chunk(smiles: Sequence[str]) -> list[list[str]]:
    out = []
    for s in smiles:
        mol = parse_smiles(s)
        out.append([] if mol is None else Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(mol)).split("."))
    return out


def _scaf_chunk(smiles: Sequence[str]) -> list[str | None]:
    out = []
    for s in smiles:
        mol = parse_smiles(s)
        scaf = None
        if mol is not None:
            try:
                core = MurckoScaffold.GetScaffoldForMol(mol)
                smi = Chem.MolToSmiles(core)
                if smi and core.GetRingInfo().NumRings() >= 2:
                    scaf = smi
            except (ValueError, RuntimeError):
                scaf = None
        out.append(scaf)
    return out


def fragment_counts(smiles: Sequence[str], n_jobs: int | None = None, progress: bool = False) -> Counter:
    """Counter of BRICS fragments (SMILES with dummy atoms) over all molecules."""
    frags = parallel_map(_frag_chunk, list(smiles), n_jobs=n_jobs, chunk_size=1000, progress=progress,
                         desc="BRICS")
    return Counter(f for fs in frags for f in fs)


def scaffold_counts(smiles: Sequence[str], n_jobs: int | None = None, progress: bool = False) -> Counter:
    """Counter of Bemis–Murcko scaffolds with ≥ 2 rings."""
    scafs = parallel_map(_scaf_chunk, list(smiles), n_jobs=n_jobs, chunk_size=1000, progress=progress,
                         desc="scaffolds")
    return Counter(s for s in scafs if s is not None)


def cosine_similarity(ref: dict[str, float], gen: dict[str, float]) -> float:
    """Cosine similarity of two count dictionaries (missing keys are zero); ``nan`` if one is empty."""
    if not ref or not gen:
        return float("nan")
    keys = sorted(set(ref) | set(gen))
    r = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
    g = np.array([gen.get(k, 0) for k in keys], dtype=np.float64)
    denom = np.linalg.norm(r) * np.linalg.norm(g)
    return float(r @ g / denom) if denom > 0 else float("nan")


def frag_similarity(gen_smiles: Sequence[str], ref_counts: dict[str, float], **kw) -> float:
    return cosine_similarity(ref_counts, fragment_counts(gen_smiles, **kw))


def scaf_similarity(gen_smiles: Sequence[str], ref_counts: dict[str, float], **kw) -> float:
    return cosine_similarity(ref_counts, scaffold_counts(gen_smiles, **kw))
