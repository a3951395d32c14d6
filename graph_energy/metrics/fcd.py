"""Fréchet ChemNet Distance (Preuer et al. 2018) with the ChemNet weights shipped in ``fcd==1.2.2``.

Only the ``fcd`` package's model loader and SMILES tokeniser are used. Activation batching,
mean/covariance and the Fréchet distance are implemented here (the package's own aggregation
calls ``numpy.row_stack``, removed in NumPy 2.5). The featurisation matches the package exactly:
one-hot tokens of ``smiles + "."``, padded to 350 positions and divided by the vocabulary size;
the network output is the 512-d penultimate layer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from scipy import linalg

from graph_energy.metrics._util import cached_npz, smiles_key

__all__ = ["GaussianStats", "chemnet_activations", "gaussian_stats", "frechet_distance", "fcd",
           "reference_stats", "PAD_LEN"]

log = logging.getLogger(__name__)

PAD_LEN = 350
_CACHE_VERSION = "fcd-chemnet-v0.13-pad350"


@dataclass(frozen=True)
class GaussianStats:
    """Mean ``mu (512,)`` and covariance ``sigma (512, 512)`` of ChemNet activations of ``n`` molecules."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int


@lru_cache(maxsize=1)
def _chemnet():
    try:
        from fcd import load_ref_model
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("FCD needs the 'fcd' package (pip install fcd==1.2.2)") from err
    model = load_ref_model()
    model.eval()
    return model


@lru_cache(maxsize=1)
def _tokeniser():
    from fcd import utils as fcd_utils

    vocab = [k for k, _ in sorted(fcd_utils.__dict__["__vocab_c2i"].items(), key=lambda kv: kv[1])]
    return fcd_utils.tokenize, {k: i for i, k in enumerate(vocab)}, vocab.index("X")


def _encode(smiles: str, pad_len: int) -> np.ndarray:
    """Token ids ``(pad_len,)`` of ``smiles + "."``; ``-1`` marks padding."""
    tokenize, c2i, unk = _tokeniser()
    ids = np.full(pad_len, -1, dtype=np.int64)
    toks = [c2i.get(t, unk) for t in tokenize(smiles + ".")]
    ids[: len(toks)] = toks
    return ids


def chemnet_activations(smiles: Sequence[str], batch_size: int = 256, progress: bool = False) -> np.ndarray:
    """ChemNet penultimate activations ``(len(smiles), 512)`` float32.

    SMILES longer than 349 characters are padded to their own length (as the ``fcd`` package does).
    """
    model = _chemnet()
    _, c2i, _ = _tokeniser()
    vocab_size = len(c2i)
    n = len(smiles)
    out = np.zeros((n, 512), dtype=np.float32)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="ChemNet", unit="mol", leave=False)
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = smiles[start:start + batch_size]
            pad = max(PAD_LEN, max(len(s) for s in batch) + 1)
            ids = torch.from_numpy(np.stack([_encode(s, pad) for s in batch]))
            x = torch.zeros(len(batch), pad, vocab_size)
            mask = ids >= 0
            x[mask] = torch.nn.functional.one_hot(ids[mask], vocab_size).float()
            x = x / vocab_size
            out[start:start + len(batch)] = model(x.transpose(1, 2)).numpy()
            if bar is not None:
                bar.update(len(batch))
    if bar is not None:
        bar.close()
    return out


def gaussian_stats(activations: np.ndarray) -> GaussianStats:
    """Mean and (unbiased) covariance of activations ``(n, d)`` in float64."""
    act = np.asarray(activations, dtype=np.float64)
    if act.ndim != 2 or act.shape[0] < 2:
        raise ValueError(f"need at least 2 activation rows for a covariance, got shape {act.shape}")
    return GaussianStats(mu=act.mean(axis=0), sigma=np.cov(act, rowvar=False), n=int(act.shape[0]))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray, method: str, eps: float) -> float:
    """``Tr((S1 S2)^{1/2})``."""
    if method == "eigh":
        # (S1 S2)^{1/2} is similar to (S1^{1/2} S2 S1^{1/2})^{1/2}, a symmetric PSD matrix
        r = _psd_sqrt(s1)
        w = np.linalg.eigvalsh(r @ s2 @ r)
        return float(np.sqrt(np.clip(w, 0, None)).sum())
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all() or not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Fréchet distance: imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(a: GaussianStats, b: GaussianStats, eps: float = 1e-6, method: str = "auto") -> float:
    """``||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})``.

    ``method="sqrtm"`` is the reference algorithm (``scipy.linalg.sqrtm`` of the product, with
    ``eps·I`` added to both covariances when the product is numerically singular, round-off
    imaginary parts dropped). ``method="eigh"`` computes the same trace from the eigenvalues of
    the symmetric ``S_a^{1/2} S_b S_a^{1/2}`` (much faster, exact for PSD inputs). ``"auto"`` uses
    ``sqrtm`` when both covariances can be full rank (more samples than dimensions, or unknown
    count ``n < 0``) and ``eigh`` otherwise, where ``sqrtm`` is slow and only the eps-regularised
    value is defined anyway.
    """
    if method not in ("auto", "sqrtm", "eigh"):
        raise ValueError(f"unknown method {method!r}; use 'auto', 'sqrtm' or 'eigh'")
    mu1, mu2 = np.atleast_1d(a.mu), np.atleast_1d(b.mu)
    s1, s2 = np.atleast_2d(a.sigma), np.atleast_2d(b.sigma)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"statistics have different shapes: {mu1.shape} vs {mu2.shape}")
    if method == "auto":
        d = mu1.shape[0]
        full = all(st.n < 0 or st.n > d for st in (a, b))
        method = "sqrtm" if full else "eigh"
    diff = mu1 - mu2
    tr = _trace_sqrt_product(s1, s2, method, eps)
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr)
    return max(value, 0.0)


def reference_stats(smiles: Sequence[str], use_cache: bool = True, progress: bool = False) -> GaussianStats:
    """ChemNet statistics of a reference set, cached under ``$GEM_CACHE_DIR/fcd/<sha256>.npz``.

    The key hashes the exact SMILES list (order included) and the featurisation version.
    """
    smiles = list(smiles)
    key = smiles_key(smiles, _CACHE_VERSION)

    def compute() -> dict[str, np.ndarray]:
        log.info("computing ChemNet reference statistics for %d molecules", len(smiles))
        st = gaussian_stats(chemnet_activations(smiles, progress=progress))
        return {"mu": st.mu, "sigma": st.sigma, "n": np.array(st.n)}

    arrays = cached_npz("fcd", key, compute, use_cache=use_cache)
    return GaussianStats(mu=arrays["mu"], sigma=arrays["sigma"], n=int(arrays["n"]))


def fcd(generated: Sequence[str], reference: Sequence[str] | GaussianStats, use_cache: bool = True,
        progress: bool = False) -> float:
    """FCD between generated SMILES and a reference (SMILES, statistics cached, or precomputed stats).

    The caller decides which SMILES enter (typically canonical SMILES of the valid samples).
    """
    if len(generated) < 2:
        raise ValueError(f"FCD needs at least 2 generated molecules, got {len(generated)}")
    ref = reference if isinstance(reference, GaussianStats) else reference_stats(
        reference, use_cache=use_cache, progress=progress)
    gen = gaussian_stats(chemnet_activations(list(generated), progress=progress))
    return frechet_distance(gen, ref)
