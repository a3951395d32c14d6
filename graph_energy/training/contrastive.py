"""The phase-2 objective: contrastive fine-tuning with the sampler's own negatives (METHOD.md §2).

    L = L_T + λ_cl(step)·L_CL + α·mean(E⁺² + E⁻²)

``L_T`` is the phase-1 transport loss on the data batch ``x⁺``; ``L_CL`` the weighted energy difference
of :class:`~graph_energy.losses.ContrastiveLoss` between ``x⁺`` and one negative per data graph. The
negatives come from the full sampling protocol (:func:`graph_energy.samplers.sample`), run without
gradient through the chain on the current weights: a fraction of the chains starts from the data
graphs themselves, the rest from noise with the data's node counts. An optional replay buffer lets a
part of each batch continue past negatives with a short mixing chain instead of a full run.

Every rank draws its own negatives for its own micro-batch (the generator the training loop passes
depends on the rank), so the objective runs under DDP exactly like phase 1.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from graph_energy.config import set_path, target_name, to_config
from graph_energy.data.dense import DenseGraph
from graph_energy.losses.base import LossOutput
from graph_energy.losses.contrastive import ContrastiveLoss
from graph_energy.noise.distributions import NoiseDistribution
from graph_energy.samplers import Sampler, Schedule, build_sampler, calibrate_thresholds, sample
from graph_energy.training.objective import Objective, bind_objective

__all__ = ["LinearRamp", "ReplayBuffer", "NegativeBatch", "NegativeSampler", "ContrastiveObjective",
           "contrastive_objective", "replay_sampler"]

log = logging.getLogger(__name__)


class LinearRamp:
    """``λ(step) = end · min(1, step / num_steps)`` (``num_steps = 0``: ``end`` from the start)."""

    def __init__(self, end: float = 0.1, num_steps: int = 100) -> None:
        if float(end) < 0 or int(num_steps) < 0:
            raise ValueError(f"ramp needs end >= 0 and num_steps >= 0, got end={end}, num_steps={num_steps}")
        self.end, self.num_steps = float(end), int(num_steps)

    def __call__(self, step: int) -> float:
        if self.num_steps == 0:
            return self.end
        return self.end * min(1.0, max(0, int(step)) / self.num_steps)


class ReplayBuffer:
    """Past negatives kept as integer labels on the CPU (``capacity = 0``: off, the reference).

    Args:
        capacity: most graphs kept; when full, new graphs overwrite random old ones.
        fraction: share of each negative batch continued from the buffer (once it holds enough graphs).
        mixing_steps: MH steps of the short chain that continues a replayed negative.
    """

    def __init__(self, capacity: int = 0, fraction: float = 0.5, mixing_steps: int = 10) -> None:
        if int(capacity) < 0 or not 0.0 <= float(fraction) <= 1.0 or int(mixing_steps) < 0:
            raise ValueError(f"replay needs capacity >= 0, 0 <= fraction <= 1, mixing_steps >= 0; got "
                             f"capacity={capacity}, fraction={fraction}, mixing_steps={mixing_steps}")
        self.capacity, self.fraction, self.mixing_steps = int(capacity), float(fraction), int(mixing_steps)
        self.x: Tensor | None = None  # (C, N) long
        self.e: Tensor | None = None  # (C, N, N) long
        self.mask: Tensor | None = None  # (C, N) bool
        self.dims: tuple[int, int] | None = None

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def __len__(self) -> int:
        return 0 if self.x is None else self.x.shape[0]

    def add(self, graphs: DenseGraph, generator: torch.Generator) -> None:
        """Store a batch (overwriting random entries once full)."""
        if not self.enabled or graphs.batch_size == 0:
            return
        lab = graphs.detach().to(torch.device("cpu")).to_labels()
        self.dims = (graphs.num_node_classes, graphs.num_edge_classes)
        x, e, m = lab.x[-self.capacity:], lab.e[-self.capacity:], lab.node_mask[-self.capacity:]
        if self.x is None:
            self.x, self.e, self.mask = x[:0], e[:0], m[:0]
        n = max(self.x.shape[1], x.shape[1])
        self.x, self.e, self.mask = _pad_labels(self.x, self.e, self.mask, n)
        x, e, m = _pad_labels(x, e, m, n)
        room = self.capacity - len(self)
        if room > 0:
            k = min(room, x.shape[0])
            self.x, self.e, self.mask = (torch.cat([self.x, x[:k]]), torch.cat([self.e, e[:k]]),
                                         torch.cat([self.mask, m[:k]]))
            x, e, m = x[k:], e[k:], m[k:]
        if x.shape[0]:
            idx = torch.randperm(len(self), generator=generator)[:x.shape[0]]
            self.x[idx], self.e[idx], self.mask[idx] = x, e, m

    def draw(self, k: int, generator: torch.Generator) -> DenseGraph:
        """``k`` stored graphs drawn without replacement (one-hot, CPU)."""
        if k > len(self) or self.dims is None:
            raise ValueError(f"cannot draw {k} graphs from a replay buffer holding {len(self)}")
        idx = torch.randperm(len(self), generator=generator)[:k]
        return DenseGraph.from_labels(self.x[idx], self.e[idx], self.mask[idx], *self.dims)


def _pad_labels(x: Tensor, e: Tensor, m: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor]:
    p = n - x.shape[1]
    if p == 0:
        return x, e, m
    return F.pad(x, (0, p)), F.pad(e, (0, p, 0, p)), F.pad(m, (0, p), value=False)


@dataclass
class NegativeBatch:
    """Negatives for one data batch.

    Attributes:
        graphs: ``B`` negative graphs (one-hot, on the data's device).
        good: ``(B,)`` bool, decodes to a valid single-fragment molecule (all True without a spec).
        valid: ``(B,)`` bool, decodes to a valid molecule (all True without a spec).
        from_data, from_replay: ``(B,)`` bool, how each chain started (the rest started from noise).
        evaluations: total energy+gradient evaluations spent.
        wall_time: seconds spent sampling and decoding.
    """

    graphs: DenseGraph
    good: Tensor
    valid: Tensor
    from_data: Tensor
    from_replay: Tensor
    evaluations: int
    wall_time: float


def _device_generator(generator: torch.Generator, device: torch.device) -> torch.Generator:
    if device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.Generator(device=device).manual_seed(seed)


def replay_sampler(sampler: Sampler, num_steps: int) -> Sampler:
    """The short chain that continues a replayed negative: the sampler's last phase (its mixing) alone,
    for ``num_steps`` steps at the phase's final temperature and without a switch (a replayed negative
    has already been through transport)."""
    last = sampler.phases[-1]
    cfg = {"_target_": target_name(Sampler), "phases": [to_config(last)]}
    set_path(cfg, "phases.0.max_steps", int(num_steps))
    set_path(cfg, "phases.0.switch", None)
    if isinstance(getattr(last.kernel, "beta_mh", None), Schedule):
        set_path(cfg, "phases.0.kernel.beta_mh", last.kernel.beta_mh.final())
    return build_sampler(cfg, trusted=True)  # built from an already built sampler


class NegativeSampler:
    """Runs the sampler without gradient through the chains to draw one negative per data graph.

    Args:
        sampler: the protocol (its phases: transport, switch, mixing) of the full chains.
        noise: source of the noise-started chains (given the data's node counts).
        spec: molecular spec to decode negatives (``None``: no decoding, every negative counts as good).
        data_fraction: share of the fresh chains started from the data graphs.
        switch_quantile: when the sampler's switch uses the energy criterion, recalibrate its per-size
            thresholds on every data batch at this quantile of the current model's data energies
            (the weights move during fine-tuning, so a stored calibration goes stale); ``None`` keeps
            the switch as configured.
        replay: optional :class:`ReplayBuffer`.
    """

    def __init__(self, sampler: Sampler, noise: NoiseDistribution, spec=None, data_fraction: float = 0.5,
                 switch_quantile: float | None = 0.5, replay: ReplayBuffer | None = None) -> None:
        if not 0.0 <= float(data_fraction) <= 1.0:
            raise ValueError(f"data_fraction must be in [0, 1], got {data_fraction}")
        if switch_quantile is not None and not 0.0 < float(switch_quantile) <= 1.0:
            raise ValueError(f"switch_quantile must be in (0, 1] or null, got {switch_quantile}")
        self.sampler, self.noise, self.spec = sampler, noise, spec
        self.data_fraction = float(data_fraction)
        self.switch_quantile = None if switch_quantile is None else float(switch_quantile)
        self.replay = replay if replay is not None else ReplayBuffer(0)
        self.replay_sampler = replay_sampler(sampler, self.replay.mixing_steps)

    def _run(self, model, initial: DenseGraph, sampler: Sampler, generator: torch.Generator, calibration=None):
        return sample(model, self.spec, sampler=sampler, generator=generator, initial=initial,
                      dtype=initial.x.dtype, decode=self.spec is not None, calibration=calibration)

    @torch.no_grad()
    def __call__(self, model, x_1: DenseGraph, generator: torch.Generator) -> NegativeBatch:
        """Negatives ``(B,)`` for the data batch ``x_1`` from the (unwrapped) ``model``; CPU ``generator``."""
        t0 = time.perf_counter()
        B, device = x_1.batch_size, x_1.x.device
        k_replay = int(math.floor(B * self.replay.fraction)) if self.replay.enabled else 0
        if k_replay > len(self.replay):
            k_replay = 0
        fresh = B - k_replay
        n_data = int(round(fresh * self.data_fraction))
        starts = []
        if n_data:
            starts.append(x_1.index(slice(0, n_data)).to(torch.device("cpu")))
        if fresh - n_data:
            counts = x_1.num_nodes[n_data:fresh].cpu()
            starts.append(self.noise.sample(counts, generator, max_nodes=x_1.max_nodes).to(x_1.x.dtype))
        dev_gen = _device_generator(generator, device)
        results = []
        if fresh:
            calibration = None
            if self.switch_quantile is not None and self.sampler.uses_calibration:
                calibration = calibrate_thresholds(model, x_1, self.switch_quantile, method="per_size")
            results.append(self._run(model, DenseGraph.cat(starts).to(device), self.sampler, dev_gen, calibration))
        if k_replay:
            start = self.replay.draw(k_replay, generator).to(device)
            results.append(self._run(model, DenseGraph(start.x.to(x_1.x.dtype), start.e.to(x_1.x.dtype),
                                                       start.node_mask), self.replay_sampler, dev_gen))
        graphs = DenseGraph.cat([r.graphs for r in results])
        self.replay.add(graphs, generator)
        smiles = [s for r in results for s in r.smiles]
        if self.spec is not None:
            valid = torch.tensor([s is not None for s in smiles], dtype=torch.bool)
            good = torch.tensor([s is not None and "." not in s for s in smiles], dtype=torch.bool)
        else:
            valid = good = torch.ones(B, dtype=torch.bool)
        from_data = torch.zeros(B, dtype=torch.bool)
        from_data[:n_data] = True
        from_replay = torch.zeros(B, dtype=torch.bool)
        from_replay[fresh:] = True
        evals = int(sum(int(r.evaluations.sum()) for r in results))
        return NegativeBatch(graphs, good.to(device), valid.to(device), from_data, from_replay, evals,
                             time.perf_counter() - t0)


def _unwrap(model):
    """The module inside a DDP wrapper (sampling runs outside DDP's forward bookkeeping)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


class ContrastiveObjective(Objective):
    """``L_T + λ_cl(step)·L_CL + α·R`` for one data batch (see the module docstring).

    Args:
        transport: the phase-1 objective (its noise, coupling, path and loss).
        negatives: draws the negatives.
        loss: the contrastive loss (invalid weight, ``α``).
        ramp: ``λ_cl`` as a function of the optimisation step (default 0 → 0.1 over 100 steps).

    Validation uses :attr:`validation_objective` (the transport loss alone, comparable with phase 1).
    """

    def __init__(self, transport: Objective, negatives: NegativeSampler,
                 loss: ContrastiveLoss | None = None, ramp: LinearRamp | None = None) -> None:
        self.transport = transport
        self.negatives = negatives
        self.loss = loss if loss is not None else ContrastiveLoss()
        self.ramp = ramp if ramp is not None else LinearRamp()

    @property
    def validation_objective(self) -> Objective:
        return self.transport

    def __call__(self, model, x_1: DenseGraph, generator: torch.Generator, *, step: int = 0) -> LossOutput:
        base = _unwrap(model)
        was = base.training
        base.eval()
        try:
            neg = self.negatives(base, x_1, generator)
        finally:
            base.train(was)
        out_t = self.transport(model, x_1, generator, step=step)
        B = x_1.batch_size
        energy = model(DenseGraph.cat([x_1, neg.graphs.to(x_1.x.device)]))  # one forward for E⁺ and E⁻
        out_cl = self.loss(energy[:B], energy[B:], self.loss.weights(neg.good), self.ramp(step))
        metrics = {**out_t.metrics, **out_cl.metrics,
                   "neg_valid": float(neg.valid.float().mean()),
                   "neg_valid_connected": float(neg.good.float().mean()),
                   "neg_sample_s": neg.wall_time,
                   "neg_evals_per_graph": neg.evaluations / max(B, 1)}
        terms = {"loss_t": out_t.loss.detach(), **out_t.terms, **out_cl.terms}
        return LossOutput(loss=out_t.loss + out_cl.loss, terms=terms, metrics=metrics)


def contrastive_objective(transport: Objective | Callable[..., Objective], noise: NoiseDistribution, spec=None,
                          stats=None, sampler: Sampler | dict | None = None, lambda_max: float = 0.1,
                          ramp_steps: int = 100, invalid_weight: float = 10.0, reg_alpha: float = 0.0,
                          data_fraction: float = 0.5, switch_quantile: float | None = 0.5,
                          replay: dict | None = None) -> ContrastiveObjective:
    """Build a :class:`ContrastiveObjective` from plain values (``conf/objective/contrastive.yaml``).

    ``transport`` is the phase-1 objective or its ``_partial_`` factory (bound here to the run's
    ``noise``/``spec``/``stats`` by :func:`~graph_energy.training.objective.bind_objective`); the
    negatives' noise-started chains use the same ``noise``. ``sampler`` is a :class:`Sampler` or its
    config dict (default: :class:`Sampler()`); ``replay`` the keyword arguments of
    :class:`ReplayBuffer` (``None``: off).
    """
    transport = bind_objective(transport, noise=noise, spec=spec, stats=stats)
    sampler = build_sampler(sampler)
    negatives = NegativeSampler(sampler, noise, spec, data_fraction, switch_quantile,
                                ReplayBuffer(**dict(replay)) if replay else None)
    return ContrastiveObjective(transport, negatives, ContrastiveLoss(invalid_weight, reg_alpha),
                                LinearRamp(lambda_max, ramp_steps))
