"""Toy energies and an enumerable state space for sampler tests."""

from __future__ import annotations

import itertools

import torch

from graph_energy.data.dense import DenseGraph, GraphLabels


def upper_flat(graph: DenseGraph) -> torch.Tensor:
    """``(B, P·de)`` one-hots of the pairs ``i<j`` (row-major)."""
    N = graph.max_nodes
    iu, ju = torch.triu_indices(N, N, offset=1)
    return graph.e[:, iu, ju].flatten(1)


class QuadraticEnergy:
    """``E = v·w + vᵀAv`` on ``v = [x one-hots, upper e one-hots]`` (fixed N, float64)."""

    def __init__(self, n: int, dx: int, de: int, seed: int = 0, scale: float = 1.0) -> None:
        g = torch.Generator().manual_seed(seed)
        d = n * dx + n * (n - 1) // 2 * de
        self.w = scale * torch.randn(d, generator=g, dtype=torch.float64)
        a = scale * 0.3 * torch.randn(d, d, generator=g, dtype=torch.float64)
        self.a = 0.5 * (a + a.T)

    def __call__(self, graph: DenseGraph) -> torch.Tensor:
        v = torch.cat([graph.x.flatten(1), upper_flat(graph)], 1).to(torch.float64)
        return v @ self.w + ((v @ self.a) * v).sum(1)


class MLPEnergy(torch.nn.Module):
    """A small random tanh MLP on masked-sum pooled node and edge one-hots (any N, permutation invariant)."""

    def __init__(self, dx: int, de: int, seed: int = 0, hidden: int = 16) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.wn = torch.nn.Parameter(torch.randn(dx, hidden, generator=g, dtype=torch.float64))
        self.we = torch.nn.Parameter(torch.randn(de, hidden, generator=g, dtype=torch.float64) * 0.5)
        self.out = torch.nn.Parameter(torch.randn(hidden, generator=g, dtype=torch.float64))

    def forward(self, graph: DenseGraph) -> torch.Tensor:
        x, e = graph.x.to(torch.float64), graph.e.to(torch.float64)
        hn = torch.tanh(x @ self.wn).sum(1)
        he = torch.tanh(e @ self.we).sum((1, 2)) * 0.5
        return torch.tanh(hn * 0.3 + he * 0.2) @ self.out


class LinearEnergy:
    """``E = Σ_i W_x[i]·x_i + Σ_{i<j} W_e[i,j]·e_ij``: exact under the first-order model, argmin per coordinate."""

    def __init__(self, n: int, dx: int, de: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.wx = torch.randn(n, dx, generator=g, dtype=torch.float64)
        self.we = torch.triu(torch.randn(n, n, de, generator=g, dtype=torch.float64).permute(2, 0, 1), 1).permute(1, 2, 0)

    def __call__(self, graph: DenseGraph) -> torch.Tensor:
        x, e = graph.x.to(torch.float64), graph.e.to(torch.float64)
        n = x.shape[1]
        return (x * self.wx[:n]).sum((1, 2)) + (e * self.we[:n, :n]).sum((1, 2, 3))

    def minimum(self, node_mask: torch.Tensor) -> torch.Tensor:
        """``(B,)`` global minimum for the given node masks."""
        m = node_mask.to(torch.float64)
        n = m.shape[1]
        up = torch.triu(m[:, :, None] * m[:, None, :], 1)
        return (self.wx[:n].min(-1).values * m).sum(1) + (self.we[:n, :n].min(-1).values * up).sum((1, 2))


def enumerate_states(n: int, dx: int, de: int) -> GraphLabels:
    """All labelled graphs with ``n`` nodes: ``dx^n · de^(n(n-1)/2)`` of them."""
    iu, ju = torch.triu_indices(n, n, offset=1)
    xs, es = [], []
    for xv in itertools.product(range(dx), repeat=n):
        for ev in itertools.product(range(de), repeat=len(iu)):
            e = torch.zeros(n, n, dtype=torch.long)
            e[iu, ju] = torch.tensor(ev)
            e[ju, iu] = torch.tensor(ev)
            xs.append(torch.tensor(xv))
            es.append(e)
    x, e = torch.stack(xs), torch.stack(es)
    return GraphLabels(x, e, torch.ones(x.shape, dtype=torch.bool))


def state_index(labels: GraphLabels, dx: int, de: int) -> torch.Tensor:
    """``(B,)`` index of each labelled graph in the order of :func:`enumerate_states`."""
    n = labels.x.shape[1]
    iu, ju = torch.triu_indices(n, n, offset=1)
    digits = torch.cat([labels.x, labels.e[:, iu, ju]], 1)
    bases = [dx] * n + [de] * len(iu)
    idx = torch.zeros(labels.x.shape[0], dtype=torch.long)
    for k, b in enumerate(bases):
        idx = idx * b + digits[:, k]
    return idx


def two_phase(transport_steps: int, mixing_steps: int, switch=None, edits_per_step: int = 1, adaptive: bool = True,
              beta_prop: float = 2.36, lambda_x: float = 4.0, lambda_e: float = 4.83, beta_mh=1.0):
    """The usual transport -> switch -> mixing sampler, built from objects."""
    from graph_energy.samplers import (
        DiscreteLangevinMH,
        EnergySwitch,
        GreedyTransport,
        LangevinProposal,
        Phase,
        Sampler,
    )

    return Sampler([
        Phase("transport", GreedyTransport(edits_per_step, adaptive), transport_steps,
              switch if switch is not None else EnergySwitch(energy=False)),
        Phase("mixing", DiscreteLangevinMH(LangevinProposal(beta_prop, lambda_x, lambda_e), beta_mh), mixing_steps),
    ])


def mixing_only(steps: int, beta_prop: float, lambda_x: float, lambda_e: float, beta_mh):
    """One MH phase."""
    from graph_energy.samplers import DiscreteLangevinMH, LangevinProposal, Phase, Sampler

    return Sampler([Phase("mixing", DiscreteLangevinMH(LangevinProposal(beta_prop, lambda_x, lambda_e), beta_mh),
                          steps)])


def exact_mh_matrix(lab: GraphLabels, ev, beta: float, knobs, frozen=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact transition matrix ``P (S, S)`` of the discrete-Langevin MH kernel on the enumerated states
    ``lab``, built from the library's own proposal (:func:`proposal_logits`, :func:`proposal_log_prob`)
    and acceptance (:func:`mh_accept`; a NaN log-ratio, e.g. ``inf − inf``, accepts with probability 0).

    Args:
        lab: all ``S`` states; ev: the target's evaluation at them (energy and gradients).
        knobs: ``(beta_prop, lambda_x, lambda_e)``; frozen: optional frozen-coordinate mask for the proposal.

    Returns:
        ``P (S, S)`` and the proposal's ``log q(to | from)`` ``(S, S)``.
    """
    from graph_energy.samplers import mh_accept, proposal_log_prob, proposal_logits

    S = lab.x.shape[0]
    logq = torch.empty(S, S, dtype=torch.float64)
    extra = {} if frozen is None else {"frozen": frozen}
    for b in range(S):
        src = GraphLabels(lab.x[b:b + 1].expand(S, -1), lab.e[b:b + 1].expand(S, -1, -1), lab.node_mask)
        logits = proposal_logits(src, ev.grad_x[b:b + 1].expand(S, -1, -1), ev.grad_e[b:b + 1].expand(S, -1, -1, -1),
                                 *knobs, **extra)
        logq[b] = proposal_log_prob(logits, lab)
    energy = ev.energy.double()
    delta = energy[None, :] - energy[:, None]  # (from, to)
    noop = torch.eye(S, dtype=torch.bool)
    beta_t = torch.full((S * S,), float(beta), dtype=torch.float64)
    _, log_alpha = mh_accept(delta.flatten(), logq.flatten(), logq.T.flatten(), beta_t, noop.flatten(),
                             torch.Generator().manual_seed(0))
    accept = torch.nan_to_num(log_alpha.view(S, S).clamp(max=0).exp(), nan=0.0)
    P = logq.exp() * accept
    P.fill_diagonal_(0)
    P += torch.diag(1 - P.sum(1))
    return P, logq
