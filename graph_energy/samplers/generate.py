"""Batched high-level generation and building samplers from plain config dicts."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from graph_energy.samplers.driver import Sampler, sample
from graph_energy.samplers.state import SampleResult
from graph_energy.samplers.target import EnergyTerm

__all__ = ["generate", "resolve_num_nodes", "build_sampler", "sampler_to_dict"]

log = logging.getLogger(__name__)


def _instantiate(node):
    """Build nested ``{"_target_": "module.Class", **kwargs}`` dicts (a hydra-free subset)."""
    if isinstance(node, dict):
        kwargs = {k: _instantiate(v) for k, v in node.items() if k != "_target_"}
        if "_target_" not in node:
            return kwargs
        module, _, name = str(node["_target_"]).rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            raise ValueError(f"cannot import _target_ {node['_target_']!r}; check the sampler config") from None
        return cls(**kwargs)
    if isinstance(node, (list, tuple)):
        return [_instantiate(v) for v in node]
    return node


def build_sampler(cfg: dict | Sampler | None, calibration=None) -> Sampler:
    """A :class:`Sampler` from a config dict (as in ``conf/sampler/*.yaml``), optionally with a calibration
    (a :class:`~graph_energy.samplers.switch.Calibration` or its dict) for the energy switch."""
    if cfg is None:
        sampler = Sampler()
    elif isinstance(cfg, Sampler):
        sampler = cfg
    else:
        cfg = dict(cfg)
        cfg.setdefault("_target_", f"{Sampler.__module__}.Sampler")
        sampler = _instantiate(cfg)
        if not isinstance(sampler, Sampler):
            raise TypeError(f"sampler config built a {type(sampler).__name__}, expected a Sampler")
    if calibration is not None:
        from graph_energy.samplers.switch import Calibration
        sampler.switch.calibration = (Calibration.from_dict(calibration) if isinstance(calibration, dict)
                                      else calibration)
    return sampler


def sampler_to_dict(sampler: Sampler) -> dict:
    """Config dict (``_target_`` form) of a sampler; the calibration is not included."""
    def target(obj) -> str:
        return f"{type(obj).__module__}.{type(obj).__name__}"
    t, m, s = sampler.transport, sampler.mixing, sampler.switch
    return {
        "_target_": target(sampler),
        "transport": {"_target_": target(t), "edits_per_step": t.edits_per_step, "max_steps": t.max_steps,
                      "adaptive": t.adaptive},
        "switch": {"_target_": target(s), "energy": s.energy, "on_arrival": s.on_arrival, "margin": s.margin},
        "mixing": {"_target_": target(m), "num_steps": m.num_steps, "beta_prop": m.beta_prop,
                   "lambda_x": m.lambda_x, "lambda_e": m.lambda_e, "beta_mh": m.beta_mh.to_dict()},
    }


def resolve_num_nodes(n: int, num_nodes, stats, generator: torch.Generator, max_nodes: int | None = None) -> Tensor:
    """``(n,)`` node counts: from ``stats`` (``num_nodes=None``), a fixed int, or an inclusive range
    ``[lo, hi]`` drawn uniformly."""
    if num_nodes is None:
        if stats is None:
            raise ValueError("num_nodes=None needs dataset statistics (the training size histogram); "
                             "pass stats or num_nodes=<int> / [lo, hi]")
        counts = torch.as_tensor(stats.sample_num_nodes(n, generator)).long().view(-1)
    elif isinstance(num_nodes, int):
        counts = torch.full((n,), int(num_nodes), dtype=torch.long)
    elif isinstance(num_nodes, (list, tuple, range)) and len(num_nodes) >= 1:
        vals = list(num_nodes)
        if isinstance(num_nodes, range):
            lo, hi = vals[0], vals[-1]
        elif len(vals) == 2:
            lo, hi = int(vals[0]), int(vals[1])
        else:
            raise ValueError(f"num_nodes range must be [lo, hi], got {num_nodes!r}")
        if lo > hi:
            raise ValueError(f"num_nodes range [lo, hi] needs lo <= hi, got {num_nodes!r}")
        counts = torch.randint(lo, hi + 1, (n,), generator=generator)
    else:
        raise ValueError(f"num_nodes must be None, an int or [lo, hi]; got {num_nodes!r}")
    if counts.numel() and int(counts.min()) < 1:
        raise ValueError(f"node counts must be >= 1, got {int(counts.min())}")
    if max_nodes is not None and counts.numel() and int(counts.max()) > max_nodes:
        raise ValueError(f"node count {int(counts.max())} exceeds the model's max_nodes={max_nodes}")
    return counts


def generate(model, spec, stats=None, n: int = 1000, batch_size: int = 256, num_nodes=None, seed: int = 0,
             sampler: Sampler | dict | None = None, extra_terms: Sequence[EnergyTerm] = (), noise=None,
             device: str | torch.device = "cpu", progress: bool = False,
             on_batch: Callable[[SampleResult], None] | None = None) -> SampleResult:
    """Generate ``n`` molecules in batches of ``batch_size`` (the last one partial).

    Node counts are drawn once for all ``n`` samples (see :func:`resolve_num_nodes`), then the chains
    run batch by batch from one generator seeded with ``seed``: same seed, same samples.
    """
    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be >= 1, got n={n}, batch_size={batch_size}")
    sampler = build_sampler(sampler)
    device = torch.device(device)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    cpu_gen = torch.Generator().manual_seed(int(seed))
    counts = resolve_num_nodes(n, num_nodes, stats, cpu_gen, getattr(spec, "max_nodes", None))
    results = []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n, desc="molecules", unit="mol")
    for start in range(0, n, batch_size):
        res = sample(model, spec, counts[start:start + batch_size].to(device), sampler, gen,
                     extra_terms=extra_terms, noise=noise)
        results.append(res)
        if on_batch is not None:
            on_batch(res)
        if bar is not None:
            s = res.summary()
            bar.update(len(res))
            bar.set_postfix(valid=f"{s['validity']:.2f}", evals=f"{s['evaluations_per_molecule']:.0f}")
    if bar is not None:
        bar.close()
    return SampleResult.cat(results)
