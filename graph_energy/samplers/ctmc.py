"""CTMC sampling of a discrete flow-matching model: the rate matrix, the flow target and the Euler kernel.

Per coordinate (a node, or an unordered pair ``i<j``) with ``S`` classes, the conditional path is
``p_t(x | x_1) = t·δ(x, x_1) + (1 − t)·p_0(x)``, so ``∂_t p_t(j | x_1) = δ(j, x_1) − p_0(j)``. The
conditional rate of Campbell et al. (2024), used by DeFoG (Qin et al., 2025), moves mass only where
the path's probability grows::

    R*_t(x → j | x_1) = ReLU(∂_t p_t(j|x_1) − ∂_t p_t(x|x_1)) / (Z_t · p_t(x|x_1)),   j ≠ x,

with ``Z_t = |{j : p_t(j|x_1) > 0}|``; it solves the Kolmogorov equation of the path. Optional terms:

* stochasticity ``η`` — a rate in detailed balance with ``p_t(·|x_1)`` (so it leaves the path's
  marginals unchanged): ``R^DB(x_1 → j) = η·p_0(j)`` and ``R^DB(j → x_1) = η·p_0(j)·p_t(x_1|x_1) / p_t(j|x_1)``
  for ``j ≠ x_1``;
* target guidance ``ω`` — an extra rate ``ω·δ(j, x_1) / (Z_t·p_t(x|x_1))`` towards ``x_1`` (not rate-exact).

The sampler's rate averages over the network's prediction, ``R_t(x → j) = Σ_{x_1} p_θ(x_1|x_t)·R_t(x → j | x_1)``,
and the diagonal is ``R_t(x → x) = −Σ_{j≠x} R_t(x → j)`` (rows sum to zero). An Euler step of size
``Δt`` jumps to ``j`` with probability ``R_t(x → j)·Δt`` (scaled down where the total exceeds 1).

A run of ``K`` steps visits ``t_k = f(k / K)`` for a time distortion ``f``
(:mod:`graph_energy.paths.distortion`) and makes ``K`` network evaluations per chain (the one at
``t = 1`` is never needed): the driver counts them in ``evaluations`` like energy evaluations.
Padding nodes, pairs touching padding and the diagonal never jump; a pair is one coordinate, mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from graph_energy.data.dense import DenseGraph, GraphLabels
from graph_energy.noise.distributions import CategoricalNoise
from graph_energy.paths.distortion import check_distortion, distort
from graph_energy.samplers.kernels import Candidate, ChainView, Kernel, KernelStep
from graph_energy.samplers.moves import mirror_upper, upper_pair_mask
from graph_energy.samplers.phases import Phase, Sampler
from graph_energy.samplers.target import TargetEnergy, TargetEval

__all__ = ["FlowEval", "FlowTarget", "ctmc_rates", "rate_matrix", "euler_jump", "CTMCKernel", "CTMCPhase",
           "ctmc_sampler"]


# ---------------------------------------------------------------------------------------------- rates
def ctmc_rates(current: Tensor, p1: Tensor, p0: Tensor, t: Tensor, eta: float = 0.0, omega: float = 0.0) -> Tensor:
    """Rates ``R_t(x → j)`` out of the current class ``x`` of every coordinate (module docstring).

    Args:
        current: ``(...)`` long current classes ``x``.
        p1: ``(..., S)`` predicted ``p_θ(x_1 | x_t)`` (rows sum to 1).
        p0: ``(..., S)`` source probabilities ``p_0`` (broadcastable to ``p1``).
        t: times, broadcastable to ``current``; ``t < 1`` (at ``t = 1`` every rate is 0 but ``η``'s).
        eta, omega: stochasticity and target guidance (0: the plain ``R*``).

    Returns:
        ``(..., S)``: ``R_t(x → j)`` for ``j ≠ x`` (``≥ 0``) and ``−Σ_{j≠x} R_t(x → j)`` at ``j = x``.
    """
    S = p1.shape[-1]
    dtype = p1.dtype
    eye = torch.eye(S, dtype=dtype, device=p1.device)                   # [x_1 = k, j]
    p0k = p0.to(dtype).unsqueeze(-2)                                    # (..., 1, S)
    tt = torch.as_tensor(t, dtype=dtype, device=p1.device)
    tt = tt.expand(current.shape)[..., None, None]
    pt = tt * eye + (1 - tt) * p0k                                      # p_t(j | k): (..., K, J)
    dpt = eye - p0k                                                     # ∂_t p_t(j | k)
    cur = F.one_hot(current.long(), S).to(dtype)                        # (..., S)
    cur_j = cur.unsqueeze(-2)                                           # (..., 1, J)
    pt_x = (pt * cur_j).sum(-1)                                         # p_t(x | k): (..., K)
    dpt_x = (dpt * cur_j).sum(-1)
    z = (pt > 0).sum(-1).to(dtype)                                      # Z_t per k
    occupied = pt_x > 0                                                 # x has mass under x_1 = k
    denom = torch.where(occupied, z * pt_x, torch.ones_like(pt_x)).unsqueeze(-1)
    rate = torch.relu(dpt - dpt_x.unsqueeze(-1)) / denom                # R*(x → j | k)
    if omega:
        rate = rate + float(omega) * eye / denom
    if eta:
        is_k = cur                                                      # x = k, over k: (..., K)
        ptkk = torch.diagonal(pt, dim1=-2, dim2=-1)                     # p_t(k | k): (..., K)
        p0x = (p0.to(dtype) * cur).sum(-1, keepdim=True)                # p_0(x): (..., 1)
        away = is_k.unsqueeze(-1) * p0k                                 # x = k → j: η p_0(j)
        back = (1 - is_k).unsqueeze(-1) * eye * (ptkk * p0x / torch.where(occupied, pt_x, torch.ones_like(pt_x))
                                                 ).unsqueeze(-1)        # x ≠ k → k
        rate = rate + float(eta) * (away + back)
    rate = rate * occupied.unsqueeze(-1).to(dtype) * (1 - cur_j)        # no self-rate; x must be reachable
    out = (p1.unsqueeze(-1) * rate).sum(-2)                             # average over x_1: (..., J)
    return out - cur * out.sum(-1, keepdim=True)


def rate_matrix(p1: Tensor, p0: Tensor, t: Tensor, eta: float = 0.0, omega: float = 0.0) -> Tensor:
    """The full matrix ``R[..., x, j] = R_t(x → j)`` for every class ``x`` (``(..., S, S)``, rows sum to 0)."""
    S = p1.shape[-1]
    batch = p1.shape[:-1]
    current = torch.arange(S, device=p1.device).expand(*batch, S)
    tt = torch.as_tensor(t, dtype=p1.dtype, device=p1.device).expand(batch).unsqueeze(-1)
    return ctmc_rates(current, p1.unsqueeze(-2), torch.as_tensor(p0).expand(*batch, S).unsqueeze(-2), tt, eta, omega)


def euler_jump(current: Tensor, rates: Tensor, dt: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """One Euler step: jump to ``j ≠ x`` with probability ``R(x → j)·Δt``, using uniforms ``u`` (``(...)``).

    Where ``Σ_j R(x → j)·Δt > 1`` the jump probabilities are scaled to sum to 1 (the chain surely moves).
    Returns the new classes ``(...)`` and the step's transition probabilities ``(..., S)``.
    """
    S = rates.shape[-1]
    cur = F.one_hot(current.long(), S).to(rates.dtype)
    jump = (rates * (1 - cur)).clamp_min(0) * dt.unsqueeze(-1)
    total = jump.sum(-1, keepdim=True)
    jump = torch.where(total > 1, jump / total.clamp_min(1e-30), jump)
    probs = jump + cur * (1 - jump.sum(-1, keepdim=True)).clamp_min(0)
    cdf = probs.cumsum(-1)
    # first class whose cumulative probability exceeds u (<=: a zero-probability class is never drawn)
    new = (cdf <= u.unsqueeze(-1) * cdf[..., -1:]).sum(-1).clamp_max(S - 1)
    return new, probs


# ---------------------------------------------------------------------------------------------- target
@dataclass
class FlowEval(TargetEval):
    """What a flow model says at the chains' graphs (the ``eval`` the CTMC kernel reads).

    ``energy``/``model_energy`` are NaN (a flow model has no energy) and ``grad_x``/``grad_e`` are empty.

    Attributes:
        probs_x: ``(B, N, dx)`` predicted ``p_θ(x_1 | x_t)`` per node.
        probs_e: ``(B, N, N, de)`` the same per pair (symmetric).
        time: ``(B,)`` the time ``t`` each row was evaluated at.
        source_x, source_e: ``(B, dx)``, ``(B, de)`` the source ``p_0`` of the model's path.
    """

    probs_x: Tensor = None  # type: ignore[assignment]
    probs_e: Tensor = None  # type: ignore[assignment]
    time: Tensor = None  # type: ignore[assignment]
    source_x: Tensor = None  # type: ignore[assignment]
    source_e: Tensor = None  # type: ignore[assignment]

    _FIELDS = ("energy", "grad_x", "grad_e", "model_energy", "probs_x", "probs_e", "time", "source_x", "source_e")

    def _map(self, fn) -> FlowEval:
        return FlowEval(**{k: fn(getattr(self, k)) for k in self._FIELDS}, terms={})

    def detach(self) -> FlowEval:
        return self._map(lambda t: t.detach())

    def index(self, idx) -> FlowEval:
        return self._map(lambda t: t[idx])

    def put(self, idx: Tensor, other: FlowEval) -> FlowEval:
        """Copy with the rows ``idx`` (long ``(K,)``) replaced by ``other`` (batch ``K``)."""
        def upd(name: str) -> Tensor:
            t = getattr(self, name).clone()
            t[idx] = getattr(other, name).to(t.dtype)
            return t
        return FlowEval(**{k: upd(k) for k in self._FIELDS}, terms={})


class FlowTarget(TargetEnergy):
    """A discrete flow-matching network as the driver's target: ``evaluate(graph, time) -> FlowEval``.

    Args:
        model: ``model(graph, t) -> ClassLogits`` (:class:`~graph_energy.models.flow.FlowTransformer`).
        source: the source ``p_0`` the model was trained with (also the chains' initial noise).
    """

    def __init__(self, model, source: CategoricalNoise) -> None:
        if not isinstance(source, CategoricalNoise):
            raise TypeError(f"source must be a categorical noise distribution (the model's p_0), "
                            f"got {type(source).__name__}")
        self.model = model
        self.source = source
        self.terms = []

    def evaluate(self, graph: DenseGraph, time: Tensor | None = None) -> FlowEval:
        """``p_θ(x_1 | graph, t)`` per coordinate at ``time (B,)`` (``t = 0`` when not given)."""
        B, dtype, dev = graph.batch_size, graph.x.dtype, graph.x.device
        t = torch.zeros(B, dtype=dtype, device=dev) if time is None else time.to(dev, dtype).reshape(B)
        with torch.no_grad():
            logits = self.model(graph, t)
        nan = torch.full((B,), float("nan"), dtype=dtype, device=dev)
        sx = self.source.node_probs.to(dev, dtype).expand(B, -1)
        se = self.source.edge_probs.to(dev, dtype).expand(B, -1)
        N = graph.max_nodes
        return FlowEval(nan, graph.x.new_zeros(B, N, 0), graph.e.new_zeros(B, N, N, 0), nan.clone(), {},
                        probs_x=logits.x.to(dtype).softmax(-1), probs_e=logits.e.to(dtype).softmax(-1), time=t,
                        source_x=sx, source_e=se)

    def energy(self, graph: DenseGraph) -> Tensor:
        raise ValueError("a discrete flow-matching model has no energy; score molecules with a GEM energy model")


# ---------------------------------------------------------------------------------------------- kernel
class CTMCKernel(Kernel):
    """Euler simulation of the flow model's CTMC from ``t = 0`` (noise) to ``t = 1`` (data).

    Args:
        num_steps: ``K``, Euler steps (= network evaluations per chain); the phase's ``max_steps``
            must be at least ``K`` (:class:`CTMCPhase` sets it).
        distortion: time grid ``t_k = f(k / K)`` (``polydec``: finer steps near the data).
        eta: stochasticity (detailed-balance rate), 0 = off.
        omega: target guidance, 0 = off.

    Counters: ``jumps`` (coordinates that changed class). Frozen coordinates never jump.
    """

    supports_frozen = True
    model_kind = "dfm"  # samples flow models (graph_energy.samplers.kinds)

    def __init__(self, num_steps: int = 50, distortion: str = "polydec", eta: float = 0.0, omega: float = 0.0) -> None:
        if int(num_steps) < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}")
        if float(eta) < 0 or float(omega) < 0:
            raise ValueError(f"eta and omega must be >= 0, got eta={eta}, omega={omega}")
        self.num_steps = int(num_steps)
        self.distortion = check_distortion(distortion)
        self.eta, self.omega = float(eta), float(omega)

    def time_at(self, k: Tensor) -> Tensor:
        """``t_k = f(k / K)`` for step indices ``k`` (clamped to ``[0, K]``)."""
        return distort(k.clamp(0, self.num_steps).double() / self.num_steps, self.distortion)

    def propose(self, state: ChainView, active: Tensor, *, generator: torch.Generator | None) -> Candidate:
        ev = state.eval
        if not isinstance(ev, FlowEval):
            raise TypeError("the CTMC sampler needs a discrete flow-matching model (a FlowTarget); for a GEM energy "
                            "model use sampler=default, paper, greedy or mixing")
        lab = state.labels
        B, N = lab.x.shape
        dtype, dev = ev.probs_x.dtype, lab.x.device
        k = state.steps
        t = self.time_at(k).to(dev, dtype)
        dt = self.time_at(k + 1).to(dev, dtype) - t
        gdev = generator.device if generator is not None else dev
        u_x = torch.rand(B, N, generator=generator, device=gdev).to(dev, dtype)
        u_e = torch.rand(B, N, N, generator=generator, device=gdev).to(dev, dtype)
        r_x = ctmc_rates(lab.x, ev.probs_x, ev.source_x[:, None, :], t[:, None], self.eta, self.omega)
        r_e = ctmc_rates(lab.e, ev.probs_e, ev.source_e[:, None, None, :], t[:, None, None], self.eta, self.omega)
        new_x, _ = euler_jump(lab.x, r_x, dt[:, None].expand(B, N), u_x)
        new_e, _ = euler_jump(lab.e, r_e, dt[:, None, None].expand(B, N, N), u_e)
        arrived = k >= self.num_steps
        go = active & ~arrived
        free_x = lab.node_mask & go[:, None]
        free_e = upper_pair_mask(lab.node_mask) & go[:, None, None]
        if state.frozen is not None:
            free_x = free_x & ~state.frozen.node
            free_e = free_e & ~state.frozen.edge
        x = torch.where(free_x, new_x, lab.x)
        e = mirror_upper(torch.where(free_e, new_e, torch.triu(lab.e, 1)))
        jumps = (x != lab.x).long().sum(1) + torch.triu(e != lab.e, 1).long().sum((1, 2))
        # the network is evaluated at every step's new state and time, except after the last step
        changed = go & (k + 1 < self.num_steps)
        return Candidate(GraphLabels(x, e, lab.node_mask), changed, arrived,
                         {"time": self.time_at(k + 1).to(dev, dtype), "jumps": jumps})

    def accept(self, state: ChainView, candidate: Candidate, cand_eval: TargetEval, active: Tensor, *,
               generator: torch.Generator | None) -> KernelStep:
        accepted = active & ~candidate.arrived
        return KernelStep(candidate, accepted, counters={"jumps": candidate.info["jumps"] * accepted.long()})


class CTMCPhase(Phase):
    """A phase running :class:`CTMCKernel` for exactly ``num_steps`` steps (one knob for both).

    ``sampler.phases.ctmc.num_steps=100`` on the ``gem-sample`` command line sets the steps (= network
    evaluations per molecule).
    """

    def __init__(self, name: str = "ctmc", num_steps: int = 50, distortion: str = "polydec", eta: float = 0.0,
                 omega: float = 0.0) -> None:
        super().__init__(name, CTMCKernel(num_steps, distortion, eta, omega), int(num_steps))


def ctmc_sampler(num_steps: int = 50, distortion: str = "polydec", eta: float = 0.0, omega: float = 0.0) -> Sampler:
    """A one-phase :class:`~graph_energy.samplers.Sampler` of :class:`CTMCPhase` (``conf/sampler/ctmc.yaml``)."""
    return Sampler([CTMCPhase("ctmc", num_steps, distortion, eta, omega)])
