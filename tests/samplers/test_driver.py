"""Driver and generation: determinism, masks, extra terms, partial batches."""

import pytest
import torch
from sampler_toys import MLPEnergy, two_phase

from graph_energy.data.spec import MolecularSpec
from graph_energy.noise import UniformNoise
from graph_energy.samplers import (
    Calibration,
    EnergySwitch,
    FunctionTerm,
    ModelTerm,
    TargetEnergy,
    generate,
    sample,
)

SPEC = MolecularSpec("toy", ("C", "N", "O"), ("none", "single", "double", "triple"), max_nodes=6)
DX, DE = 3, 4


def small_sampler():
    return two_phase(6, 8, EnergySwitch(Calibration(0.5, {3: -0.5, 5: 0.0})), edits_per_step=2, beta_prop=1.0,
                     lambda_x=1.0, lambda_e=1.0, beta_mh=1.0)


class Stats:
    def sample_num_nodes(self, n, generator):
        return torch.randint(2, 7, (n,), generator=generator)


def test_same_seed_same_bits_and_masks_untouched():
    model = MLPEnergy(DX, DE, seed=0)
    sizes = torch.tensor([2, 6, 4, 3, 5])
    masks = []

    def check(state):
        state.graph.validate()
        masks.append(state.graph.node_mask.clone())

    runs = [sample(model, SPEC, sizes, small_sampler(), torch.Generator().manual_seed(s), callbacks=[check])
            for s in (1, 1, 2)]
    a, b, c = runs
    assert torch.equal(a.graphs.x, b.graphs.x) and torch.equal(a.graphs.e, b.graphs.e)
    assert torch.equal(a.energy, b.energy) and a.smiles == b.smiles
    assert not torch.equal(a.graphs.e, c.graphs.e)
    expected = torch.arange(6)[None] < sizes[:, None]
    assert all(torch.equal(m, expected) for m in masks)
    assert torch.equal(a.num_nodes, sizes)
    assert len(a.smiles) == 5 and (a.mixing_steps == 8).all()
    rec = a.records()[0]
    assert list(rec)[:13] == ["smiles", "valid", "connected", "num_nodes", "energy", "model_energy",
                              "transport_steps", "mixing_steps", "switch_step", "switch_reason", "accepted",
                              "noops", "evaluations"]
    assert (a.proposals == 8).all() and torch.equal(a.acceptance_rate, a.accepted / 8)


def test_extra_terms_enter_energy_and_only_differentiable_ones_the_gradient():
    model = MLPEnergy(DX, DE, seed=0)
    g = UniformNoise(DX, DE).sample(torch.tensor([4, 5]), torch.Generator().manual_seed(0)).to(torch.float64)
    base = TargetEnergy(model).evaluate(g)
    nondiff = FunctionTerm(lambda gr: gr.x[..., 0].sum(1) * 10, weight=0.5, name="carbons")
    expert = ModelTerm(MLPEnergy(DX, DE, seed=5), weight=2.0)
    ev = TargetEnergy(model, [nondiff, expert]).evaluate(g)
    other = TargetEnergy(expert.fn).evaluate(g)
    assert torch.allclose(ev.energy, base.energy + 5 * g.x[..., 0].sum(1) + 2 * other.energy)
    assert torch.allclose(ev.grad_x, base.grad_x + 2 * other.grad_x)
    assert torch.allclose(ev.model_energy, base.energy)
    assert set(ev.terms) == {"carbons", "expert"}
    with pytest.raises(ValueError, match="unique names"):
        TargetEnergy(model, [nondiff, nondiff])


def test_generate_partial_last_batch_and_node_count_options():
    model = MLPEnergy(DX, DE, seed=0)
    kw = dict(sampler=small_sampler(), batch_size=4)
    r1 = generate(model, SPEC, Stats(), n=10, seed=3, **kw)
    r2 = generate(model, SPEC, Stats(), n=10, seed=3, **kw)
    assert len(r1) == 10 and r1.smiles == r2.smiles and torch.equal(r1.energy, r2.energy)
    assert r1.num_nodes.min() >= 2 and r1.num_nodes.max() <= 6
    fixed = generate(model, SPEC, None, n=5, num_nodes=4, **kw)
    assert (fixed.num_nodes == 4).all()
    ranged = generate(model, SPEC, None, n=9, num_nodes=[3, 5], **kw)
    assert set(ranged.num_nodes.tolist()) <= {3, 4, 5}
    s = r1.summary()
    assert 0 <= s["validity"] <= 1 and s["evaluations_per_molecule"] >= 1
    with pytest.raises(ValueError, match="num_nodes"):
        generate(model, SPEC, None, n=3)
    with pytest.raises(ValueError, match="max_nodes"):
        generate(model, SPEC, None, n=3, num_nodes=9)


def test_calibration_at_call_time_equals_calibration_at_build_time():
    model = MLPEnergy(DX, DE, seed=0)
    cal = Calibration(0.5, {3: -0.5, 5: 0.0})
    sizes = torch.tensor([3, 5, 4, 3])
    built = sample(model, SPEC, sizes, small_sampler(), torch.Generator().manual_seed(0))
    uncalibrated = two_phase(6, 8, EnergySwitch(), edits_per_step=2, beta_prop=1.0, lambda_x=1.0, lambda_e=1.0)
    at_call = sample(model, SPEC, sizes, uncalibrated, torch.Generator().manual_seed(0), calibration=cal)
    assert torch.equal(built.energy, at_call.energy) and torch.equal(built.switch_step, at_call.switch_step)
    assert uncalibrated.needs_calibration and not small_sampler().needs_calibration
