"""The CTMC sampler of discrete flow-matching models: rate matrix, masks, the driver's bookkeeping, exactness."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graph_energy.data.dense import DenseGraph
from graph_energy.models.heads import ClassLogits
from graph_energy.noise import CategoricalNoise, UniformNoise
from graph_energy.samplers import build_sampler, sample
from graph_energy.samplers.ctmc import CTMCKernel, FlowTarget, ctmc_rates, ctmc_sampler, rate_matrix
from graph_energy.samplers.kinds import check_sampler_kind, resolve_sampler_config, sampler_kind

P0 = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)


@pytest.mark.parametrize("eta,omega", [(0.0, 0.0), (1.5, 0.0), (0.0, 0.4), (2.0, 0.7)])
@pytest.mark.parametrize("t", [0.0, 0.25, 0.9])
def test_rate_matrix_rows_sum_to_zero_with_nonnegative_off_diagonal(eta, omega, t):
    p1 = torch.softmax(torch.randn(6, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64), -1)
    R = rate_matrix(p1, P0, torch.tensor(t, dtype=torch.float64), eta, omega)
    assert R.shape == (6, 4, 4)
    assert torch.allclose(R.sum(-1), torch.zeros(6, 4, dtype=torch.float64), atol=1e-12)
    off = R - torch.diag_embed(torch.diagonal(R, dim1=-2, dim2=-1))
    assert (off >= 0).all() and (torch.diagonal(R, dim1=-2, dim2=-1) <= 0).all()


@pytest.mark.parametrize("p0", [P0, torch.full((4,), 0.25, dtype=torch.float64)])
@pytest.mark.parametrize("eta", [0.0, 3.0])
def test_conditional_rate_solves_the_kolmogorov_equation_of_the_mixture_path(p0, eta):
    """For a known x_1: Σ_x p_t(x|x_1) R_t(x→j|x_1) = ∂_t p_t(j|x_1) = δ(j,x_1) − p_0(j); the
    detailed-balance term adds nothing to the flux."""
    for k in range(4):
        d = torch.nn.functional.one_hot(torch.tensor(k), 4).double()
        for t in (0.0, 0.3, 0.75):
            R = rate_matrix(d, p0, torch.tensor(t, dtype=torch.float64), eta)
            p_t = t * d + (1 - t) * p0
            assert torch.allclose(p_t @ R, d - p0, atol=1e-12)


def test_uniform_source_rates_only_point_at_predicted_classes():
    """Uniform p_0: R(x→j) = p_θ(j) / (S·(1−t)·p_0(x)) = p_θ(j) / (1−t) for j ≠ x, and no rate to j with p_θ(j) = 0."""
    p1 = torch.tensor([[0.0, 0.7, 0.3, 0.0]], dtype=torch.float64)
    t = 0.4
    out = ctmc_rates(torch.tensor([3]), p1, torch.full((1, 4), 0.25, dtype=torch.float64), torch.tensor([t]))
    expected = torch.tensor([[0.0, 0.7, 0.3, 0.0]], dtype=torch.float64) / (1 - t)
    expected[0, 3] = -expected.sum()
    assert torch.allclose(out, expected, atol=1e-12)


class ConstantFlow(nn.Module):
    """A 'flow model' predicting fixed class probabilities everywhere (node and edge logits)."""

    model_kind = "dfm"

    def __init__(self, px: torch.Tensor, pe: torch.Tensor) -> None:
        super().__init__()
        self.lx, self.le = px.float().clamp_min(1e-30).log(), pe.float().clamp_min(1e-30).log()
        self.calls: list[torch.Tensor] = []

    def forward(self, graph: DenseGraph, t: torch.Tensor) -> ClassLogits:
        self.calls.append(t.clone())
        B, N = graph.node_mask.shape
        return ClassLogits(self.lx.expand(B, N, -1).clone(), self.le.expand(B, N, N, -1).clone())


def _run(model, source, num_nodes, sampler, seed=0):
    return sample(FlowTarget(model, source), None, torch.tensor(num_nodes), sampler,
                  torch.Generator().manual_seed(seed), noise=source)


def test_chains_respect_masks_symmetry_and_count_one_evaluation_per_step():
    """Padding nodes, pairs touching padding and the diagonal never jump; pairs stay symmetric; K steps
    cost K network evaluations per chain at times t_0 .. t_{K-1} of the distorted grid."""
    model = ConstantFlow(torch.tensor([0.0, 0.0, 1.0]), torch.tensor([0.0, 0.2, 0.8]))
    source = UniformNoise(3, 3)
    sampler = ctmc_sampler(num_steps=6, distortion="cos")
    res = _run(model, source, [4, 2, 1], sampler)
    g = res.graphs.validate()
    assert torch.equal(g.e, g.e.transpose(1, 2))
    lab = g.to_labels()
    assert (lab.x[g.node_mask] == 2).all()  # a certain prediction and a uniform source: exact at t = 1
    assert not g.x[~g.node_mask].any() and not g.e[~g.pair_mask].any()
    upper = torch.triu(g.pair_mask, 1)
    assert set(lab.e[upper].tolist()) <= {1, 2}
    assert res.evaluations.tolist() == [6, 6, 6]
    kernel = sampler.phases[0].kernel
    times = torch.stack([c[0] for c in model.calls]).double()
    assert torch.allclose(times, kernel.time_at(torch.arange(6)).float().double(), atol=1e-6)
    assert res.phase_steps["ctmc"].tolist() == [6, 6, 6] and res.exit_reason["ctmc"].tolist() == [3, 3, 3]
    assert torch.isnan(res.energy).all()


def test_same_seed_same_chains_and_frozen_coordinates_stay():
    from graph_energy.samplers.frozen import FrozenMask

    model = ConstantFlow(torch.tensor([0.2, 0.5, 0.3]), torch.tensor([0.6, 0.3, 0.1]))
    source = CategoricalNoise([0.5, 0.25, 0.25], [0.7, 0.2, 0.1])
    a = _run(model, source, [5, 3], ctmc_sampler(8, eta=0.5, omega=0.2), seed=3)
    b = _run(model, source, [5, 3], ctmc_sampler(8, eta=0.5, omega=0.2), seed=3)
    assert torch.equal(a.graphs.x, b.graphs.x) and torch.equal(a.graphs.e, b.graphs.e)
    assert a.counters["jumps"].sum() > 0
    init = source.sample(torch.tensor([5, 3]), torch.Generator().manual_seed(9))
    node = torch.zeros(2, 5, dtype=torch.bool)
    node[:, 0] = True
    edge = torch.zeros(2, 5, 5, dtype=torch.bool)
    edge[:, 0, 1] = edge[:, 1, 0] = True
    res = sample(FlowTarget(model, source), None, None, ctmc_sampler(8), torch.Generator().manual_seed(0),
                 initial=init, frozen=FrozenMask(node & init.node_mask, edge))
    before, after = init.to_labels(), res.graphs.to_labels()
    assert torch.equal(after.x[:, 0], before.x[:, 0]) and torch.equal(after.e[:, 0, 1], before.e[:, 0, 1])


class OracleFlow(nn.Module):
    """The exact posterior of one node with data distribution π: p(x_1=k | x_t=x) ∝ π(k)·p_t(x | k)."""

    model_kind = "dfm"

    def __init__(self, pi: torch.Tensor, p0: torch.Tensor) -> None:
        super().__init__()
        self.pi, self.p0 = pi.double(), p0.double()

    def forward(self, graph: DenseGraph, t: torch.Tensor) -> ClassLogits:
        x = graph.x.double()                                     # (B, 1, S)
        tt = t.double()[:, None, None]
        eye = torch.eye(self.pi.numel(), dtype=torch.float64)
        pt = tt[..., None] * eye + (1 - tt[..., None]) * self.p0  # (B, 1, K, J): p_t(j | k)
        lik = (pt * x[:, :, None, :]).sum(-1)                    # p_t(x | k)
        post = self.pi * lik
        B, N = graph.node_mask.shape
        return ClassLogits(post.log().float(), torch.zeros(B, N, N, 2))


@pytest.mark.parametrize("eta", [0.0, 2.0])
def test_the_exact_posterior_samples_the_data_distribution(eta):
    """With the oracle p(x_1 | x_t), 4000 single-node chains end distributed as π (Euler error is small
    at 60 steps; 4000 draws give a standard error below 0.008 per class)."""
    pi = torch.tensor([0.1, 0.6, 0.3])
    p0 = torch.tensor([0.5, 0.25, 0.25])
    source = CategoricalNoise(p0, [0.5, 0.5])
    res = _run(OracleFlow(pi, p0), source, [1] * 4000, ctmc_sampler(60, distortion="identity", eta=eta))
    freq = torch.bincount(res.graphs.to_labels().x[:, 0], minlength=3).double() / 4000
    assert torch.allclose(freq, pi.double(), atol=0.035), freq


def test_kind_checks_and_default_sampler_resolution():
    ctmc = build_sampler(resolve_sampler_config(None, "dfm"))
    assert sampler_kind(ctmc) == "dfm" and isinstance(ctmc.phases[0].kernel, CTMCKernel)
    assert ctmc.phases[0].max_steps == ctmc.phases[0].kernel.num_steps == 50
    default = build_sampler(resolve_sampler_config(None, "energy"))
    assert sampler_kind(default) == "energy"
    from graph_energy.samplers.kinds import default_sampler_config

    assert build_sampler(resolve_sampler_config(default_sampler_config("energy"), "dfm")).names == ("ctmc",)
    with pytest.raises(ValueError, match="use sampler=ctmc"):
        check_sampler_kind(default, "dfm")
    with pytest.raises(ValueError, match="use sampler=default"):
        check_sampler_kind(ctmc, "energy")
    with pytest.raises(ValueError, match="num_steps must be >= 1"):
        CTMCKernel(0)
    with pytest.raises(ValueError, match="unknown time distortion"):
        CTMCKernel(5, distortion="linear")


def test_ctmc_kernel_refuses_an_energy_target():
    def energy(graph: DenseGraph) -> torch.Tensor:
        return graph.x.sum((1, 2)) + graph.e.sum((1, 2, 3))

    with pytest.raises(TypeError, match="needs a discrete flow-matching model"):
        sample(energy, None, torch.tensor([3]), ctmc_sampler(4), torch.Generator().manual_seed(0),
               noise=UniformNoise(3, 2))
