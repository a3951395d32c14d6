"""Batched high-level generation: batches of chains with their own seeds, in one or several processes."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph
from graph_energy.samplers.build import build_sampler
from graph_energy.samplers.driver import sample
from graph_energy.samplers.phases import Sampler
from graph_energy.samplers.state import SampleResult
from graph_energy.samplers.switch import Calibration
from graph_energy.samplers.target import EnergyTerm

__all__ = ["generate", "resolve_num_nodes", "batch_seed", "default_workers"]

log = logging.getLogger(__name__)

_MASK64 = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def batch_seed(seed: int, index: int) -> int:
    """Seed of the generator of batch ``index`` of a run seeded with ``seed``.

    The first batch uses ``seed`` itself (a run of one batch is the single-generator run of earlier
    versions); batch ``i > 0`` uses a splitmix64 hash of ``(seed, i)`` (63 bits). Seeds depend only on
    ``(seed, index)``, never on how batches are spread over processes.
    """
    if index == 0:
        return int(seed)
    return _splitmix64(_splitmix64(int(seed) & _MASK64) ^ int(index)) >> 1


def default_workers(device: str | torch.device = "cpu") -> int:
    """``min(2, CPU cores available to this process)`` on CPU, 1 on other devices."""
    if torch.device(device).type != "cpu":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


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
        raise ValueError(f"node count {int(counts.max())} exceeds the model's max_nodes={max_nodes}; "
                         f"pass num_nodes=<1..{max_nodes}> (or [lo, hi] within it) for this model")
    return counts


# What a batch needs besides its node counts and seed; set in the parent right before the worker
# processes are forked, so they inherit the model instead of receiving a pickled copy.
_JOB: dict | None = None


def _sample_batch(job: dict, counts: Tensor, seed: int) -> SampleResult:
    gen = torch.Generator(device=job["device"]).manual_seed(seed)
    counts = counts.to(job["device"])
    if job["start"] is None:
        return sample(job["model"], job["spec"], counts, job["sampler"], gen,
                      extra_terms=job["extra_terms"], noise=job["noise"], calibration=job["calibration"])
    # the same first draw as sample() makes from noise, then the caller's edit of the start (e.g. a scaffold)
    noise = job["noise"]
    if noise is None:
        from graph_energy.noise import UniformNoise
        noise = UniformNoise(job["spec"].num_atom_types, job["spec"].num_bond_types)
    initial, frozen = job["start"](noise.sample(counts, generator=gen))
    return sample(job["model"], job["spec"], sampler=job["sampler"], generator=gen, extra_terms=job["extra_terms"],
                  initial=initial, frozen=frozen, calibration=job["calibration"])


def _worker_init(threads: int) -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    torch.set_num_threads(threads)


def _worker_batch(task: tuple[int, Tensor, int]) -> tuple[int, SampleResult]:
    index, counts, seed = task
    assert _JOB is not None, "worker started without a job"
    return index, _sample_batch(_JOB, counts, seed)


def _batches(job: dict, tasks: list[tuple[int, Tensor, int]], workers: int) -> Iterator[SampleResult]:
    """Results of ``tasks`` in task order, computed here or in ``workers`` forked processes."""
    global _JOB
    if workers <= 1 or len(tasks) <= 1:
        for _, counts, seed in tasks:
            yield _sample_batch(job, counts, seed)
        return
    if "fork" not in mp.get_all_start_methods():
        raise ValueError(f"workers={workers} needs the 'fork' start method, which this platform lacks; "
                         "pass workers=1")
    _JOB = job
    try:
        ctx = mp.get_context("fork")
        with ctx.Pool(min(workers, len(tasks)), initializer=_worker_init,
                      initargs=(torch.get_num_threads(),)) as pool:
            for _, res in pool.imap(_worker_batch, tasks, chunksize=1):  # in order; idle workers take the next
                yield res
    finally:
        _JOB = None


def generate(model, spec, stats=None, n: int = 1000, batch_size: int = 256, num_nodes=None, seed: int = 0,
             sampler: Sampler | dict | None = None, extra_terms: Sequence[EnergyTerm] = (), noise=None,
             device: str | torch.device = "cpu", progress: bool = False,
             on_batch: Callable[[SampleResult], None] | None = None,
             calibration: Calibration | dict | None = None, trusted: bool = False, workers: int = 1,
             start_batch: int = 0, counts: Tensor | None = None,
             start: Callable[[DenseGraph], tuple[DenseGraph, object]] | None = None) -> SampleResult:
    """Generate ``n`` molecules in batches of ``batch_size`` (the last one partial).

    Node counts are drawn once for all ``n`` samples from a generator seeded with ``seed`` (see
    :func:`resolve_num_nodes`); batch ``i`` then runs its chains from its own generator seeded with
    :func:`batch_seed` ``(seed, i)``. Same ``(seed, n, batch_size)``, same samples, whatever
    ``workers`` is (and with the same CPU thread count, the same bits).

    ``sampler`` is a :class:`Sampler` or a config dict (built with
    :func:`~graph_energy.samplers.build_sampler`, ``trusted`` as there); ``calibration`` gives the
    switches their per-size thresholds for this call.

    Args:
        workers: processes sampling batches in parallel (CPU only; forked, so they share the model).
            Each uses the caller's torch thread count.
        start_batch: skip the batches before this index (continuing an interrupted run: the
            remaining batches are exactly those of the full run).
        on_batch: called in the calling process with each finished batch, in batch order.
        counts: ``(n,)`` node counts to use instead of drawing them from ``num_nodes`` / ``stats``.
        start: ``start(noise_graphs) -> (initial_graphs, frozen)``: edits each batch's noise start and
            gives the coordinates its chains must keep (scaffold-constrained sampling); ``None``: plain noise.

    Returns:
        The batches ``start_batch, ...`` concatenated; ``wall_time`` is the elapsed time of this call.
    """
    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be >= 1, got n={n}, batch_size={batch_size}")
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    num_batches = -(-n // batch_size)
    if not 0 <= start_batch < num_batches:
        raise ValueError(f"start_batch={start_batch} is outside the run's {num_batches} batches")
    t0 = time.perf_counter()
    sampler = build_sampler(sampler, trusted=trusted)
    if isinstance(calibration, dict):
        calibration = Calibration.from_dict(calibration)
    device = torch.device(device)
    if workers > 1 and device.type != "cpu":
        raise ValueError(f"workers={workers} runs CPU processes; with device={device} pass workers=1")
    cpu_gen = torch.Generator().manual_seed(int(seed))
    if counts is None:
        counts = resolve_num_nodes(n, num_nodes, stats, cpu_gen, getattr(spec, "max_nodes", None))
    elif counts.shape != (n,):
        raise ValueError(f"counts must have shape ({n},), got {tuple(counts.shape)}")
    job = dict(model=model, spec=spec, sampler=sampler, extra_terms=tuple(extra_terms), noise=noise,
               calibration=calibration, device=device, start=start)
    tasks = [(b, counts[b * batch_size:(b + 1) * batch_size], batch_seed(seed, b))
             for b in range(start_batch, num_batches)]
    results = []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n, initial=start_batch * batch_size, desc="molecules", unit="mol")
    try:
        for res in _batches(job, tasks, workers):
            results.append(res)
            if on_batch is not None:
                on_batch(res)
            if bar is not None:
                s = res.summary()
                bar.update(len(res))
                bar.set_postfix(valid=f"{s['validity']:.2f}", evals=f"{s['evaluations_per_molecule']:.0f}")
    finally:
        if bar is not None:
            bar.close()
    out = SampleResult.cat(results)
    out.wall_time = time.perf_counter() - t0
    return out
