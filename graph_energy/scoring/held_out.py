"""The score reference of a model: energies of held-out data graphs per size, computed once and cached.

The cache file is ``$GEM_CACHE_DIR/scoring/<key>.json`` (default ``~/.cache/graph_energy``), keyed by
a fingerprint of the model's weights, the dataset config, the split and the reference settings, so a
retrained model or another split never reuses stale statistics.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping

import numpy as np
import torch

from graph_energy.scoring.reference import ScoreReference, build_reference
from graph_energy.scoring.score import graph_energies

__all__ = ["model_fingerprint", "held_out_energies", "reference_for_model", "reference_cache_path"]

log = logging.getLogger(__name__)


def model_fingerprint(model: torch.nn.Module) -> str:
    """16 hex digits of the SHA-256 over the model's state dict (names, shapes and values)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def held_out_energies(model, spec, dataset_cfg: Mapping, split: str = "val", max_per_size: int | None = 2000,
                      seed: int = 0, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Energies ``(M,)`` and node counts ``(M,)`` of graphs of a split: all graphs of each size, or a seeded
    random ``max_per_size`` of them (rare sizes keep every graph)."""
    from graph_energy.data import load_dataset

    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test; got {split!r}")
    ds = getattr(load_dataset(dict(dataset_cfg)), split)
    sizes = ds.store.num_nodes if ds._indices is None else ds.store.num_nodes[torch.as_tensor(list(ds.indices()))]
    gen = torch.Generator().manual_seed(int(seed))
    pick = []
    for n in torch.unique(sizes).tolist():
        idx = (sizes == n).nonzero().view(-1)
        if max_per_size is not None and idx.numel() > int(max_per_size):
            idx = idx[torch.randperm(idx.numel(), generator=gen)[: int(max_per_size)]].sort().values
        pick.append(idx)
    pick = torch.cat(pick)
    energies = [graph_energies(model, ds.dense(pick[s:s + batch_size], max_nodes=spec.max_nodes), batch_size)
                for s in range(0, pick.numel(), batch_size)]
    return np.concatenate(energies), sizes[pick].numpy().astype(np.int64)


def _key(fingerprint: str, dataset_cfg: Mapping, settings: dict) -> str:
    blob = json.dumps({"model": fingerprint, "dataset": dict(dataset_cfg), **settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def reference_cache_path(fingerprint: str, dataset_cfg: Mapping, settings: dict):
    from graph_energy.metrics._util import cache_dir

    return cache_dir("scoring") / f"{_key(fingerprint, dataset_cfg, settings)}.json"


def reference_for_model(model, spec, dataset_cfg: Mapping, split: str = "val", max_per_size: int | None = 2000,
                        ood_quantile: float = 0.99, min_count: int = 50, seed: int = 0, use_cache: bool = True,
                        batch_size: int = 256) -> ScoreReference:
    """The :class:`ScoreReference` of ``model`` on a split of its dataset (read from / written to the cache).

    Args:
        dataset_cfg: the model's dataset config (``loaded.config["dataset"]``) or e.g. ``{"name": "qm9"}``.
        max_per_size: graphs per size used at most (seeded random subset); ``None`` = all.
        ood_quantile, min_count: see :func:`~graph_energy.scoring.reference.build_reference`.
    """
    if not dataset_cfg:
        raise ValueError("no dataset to compute the score reference on; pass dataset='qm9' or a dataset config, "
                         "or a reference file (reference=path.json)")
    dataset_cfg = {"name": dataset_cfg} if isinstance(dataset_cfg, str) else dict(dataset_cfg)
    fp = model_fingerprint(model)
    settings = {"split": split, "max_per_size": max_per_size, "ood_quantile": float(ood_quantile),
                "min_count": int(min_count), "seed": int(seed), "version": 1}
    path = reference_cache_path(fp, dataset_cfg, settings) if use_cache else None
    if path is not None and path.is_file():
        try:
            return ScoreReference.load(path)
        except (ValueError, json.JSONDecodeError) as err:
            log.warning("ignoring unreadable score reference cache %s (%s)", path, err)
    energy, sizes = held_out_energies(model, spec, dataset_cfg, split, max_per_size, seed, batch_size)
    source = {"dataset": dataset_cfg.get("name"), "num_graphs": int(energy.size), "model_fingerprint": fp,
              "max_per_size": max_per_size, "seed": int(seed)}
    ref = build_reference(energy, sizes, spec.max_nodes, ood_quantile, min_count, split, source)
    if path is not None:
        tmp = path.with_suffix(".tmp")
        ref.save(tmp)
        tmp.replace(path)
        log.info("score reference (%d %s graphs) cached at %s", energy.size, split, path)
    return ref
