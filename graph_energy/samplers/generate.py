"""Batched high-level generation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from graph_energy.samplers.build import build_sampler
from graph_energy.samplers.driver import sample
from graph_energy.samplers.phases import Sampler
from graph_energy.samplers.state import SampleResult
from graph_energy.samplers.switch import Calibration
from graph_energy.samplers.target import EnergyTerm

__all__ = ["generate", "resolve_num_nodes"]


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
             on_batch: Callable[[SampleResult], None] | None = None,
             calibration: Calibration | dict | None = None, trusted: bool = False) -> SampleResult:
    """Generate ``n`` molecules in batches of ``batch_size`` (the last one partial).

    Node counts are drawn once for all ``n`` samples (see :func:`resolve_num_nodes`), then the chains
    run batch by batch from one generator seeded with ``seed``: same seed, same samples.

    ``sampler`` is a :class:`Sampler` or a config dict (built with
    :func:`~graph_energy.samplers.build_sampler`, ``trusted`` as there); ``calibration`` gives the
    switches their per-size thresholds for this call.
    """
    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be >= 1, got n={n}, batch_size={batch_size}")
    sampler = build_sampler(sampler, trusted=trusted)
    if isinstance(calibration, dict):
        calibration = Calibration.from_dict(calibration)
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
                     extra_terms=extra_terms, noise=noise, calibration=calibration)
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
