"""Driver and generation: determinism, masks, extra terms, partial batches, configs."""

import pytest
import torch
from sampler_toys import MLPEnergy

from graph_energy.data.spec import MolecularSpec
from graph_energy.noise import UniformNoise
from graph_energy.samplers import (
    Calibration,
    DiscreteLangevinMH,
    EnergySwitch,
    FunctionTerm,
    GreedyTransport,
    ModelTerm,
    Sampler,
    TargetEnergy,
    build_sampler,
    generate,
    sample,
    sampler_to_dict,
)

SPEC = MolecularSpec("toy", ("C", "N", "O"), ("none", "single", "double", "triple"), max_nodes=6)
DX, DE = 3, 4


def small_sampler(**mix) -> Sampler:
    return Sampler(GreedyTransport(2, 6), DiscreteLangevinMH(num_steps=8, beta_prop=1.0, lambda_x=1.0,
                                                             lambda_e=1.0, beta_mh=1.0, **mix),
                   EnergySwitch(Calibration(0.5, {3: -0.5, 5: 0.0})))


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
    assert {"smiles", "energy", "transport_steps", "mixing_steps", "switch_step", "valid"} <= set(rec)


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


@pytest.mark.parametrize("name", ["paper", "default"])
def test_presets_build_with_and_without_hydra(name):
    from pathlib import Path

    import yaml

    import graph_energy

    path = Path(graph_energy.__file__).parent / "conf" / "sampler" / f"{name}.yaml"
    cfg = yaml.safe_load(path.read_text())
    s = build_sampler(cfg, calibration={"quantile": 0.5, "thresholds": {"9": -1.0}})
    assert isinstance(s, Sampler) and s.switch.calibration.thresholds == {9: -1.0}
    again = build_sampler(sampler_to_dict(s))
    assert sampler_to_dict(again) == sampler_to_dict(s)
    from hydra.utils import instantiate
    assert isinstance(instantiate(cfg), Sampler)
    if name == "paper":
        assert s.transport.max_steps == 225 and s.mixing.num_steps == 1000
        assert s.mixing.beta_mh(torch.tensor([0, 250, 500, 900])).tolist() == pytest.approx([0.78, 9.19, 17.6, 17.6])
