"""The kernel protocol: standalone steps match the driver, kernel state and counters, a kernel from outside
the library in a phased sampler."""

import torch
from sampler_toys import LinearEnergy, MLPEnergy, mixing_only, two_phase
from toy_kernels import ToyKernel

from graph_energy.noise import UniformNoise
from graph_energy.samplers import (
    ChainView,
    EnergySwitch,
    GreedyTransport,
    Phase,
    Sampler,
    SwitchReason,
    TargetEnergy,
    sample,
)

N, DX, DE = 5, 3, 4


def start(target, sizes, seed):
    g = torch.Generator().manual_seed(seed)
    graph = UniformNoise(DX, DE).sample(sizes, g).to(torch.float64)
    return ChainView.start(graph, target.evaluate(graph)), g


def test_standalone_mh_steps_reproduce_the_driver():
    target = TargetEnergy(MLPEnergy(DX, DE, seed=1))
    sizes = torch.tensor([3, 5, 4, 2])
    sampler = mixing_only(6, 1.0, 0.5, 0.5, [0.5, 3.0, 4])
    res = sample(target, None, sizes, sampler, torch.Generator().manual_seed(4), noise=UniformNoise(DX, DE),
                 dtype=torch.float64)
    kernel = sampler.phases[0].kernel
    view, g = start(target, sizes, 4)
    view.data = kernel.init_state(view)
    accepted = torch.zeros(4, dtype=torch.long)
    for _ in range(6):
        st = kernel.step(view, target, generator=g)
        assert st.log_alpha.dtype == torch.float64 and st.eval is not None
        accepted += st.counters["accepted"]
        view = view.advance(st)
    assert torch.equal(view.graph.e, res.graphs.e) and torch.equal(view.eval.energy, res.energy)
    assert torch.equal(accepted, res.accepted) and (view.steps == 6).all()


def test_transport_kernel_state_and_arrival():
    target = TargetEnergy(LinearEnergy(N, DX, DE, seed=2))
    view, _ = start(target, torch.tensor([5, 4, 3]), 0)
    kernel = GreedyTransport(3)
    view.data = kernel.init_state(view)
    assert view.data["edits_per_step"].tolist() == [3, 3, 3]
    energies = [view.eval.energy]
    for _ in range(20):
        st = kernel.step(view, target)
        assert st.accepted.all() and torch.equal(st.counters["edits"], st.candidate.info["num_edits"])
        view = view.advance(st)
        energies.append(view.eval.energy)
    e = torch.stack(energies)
    assert (e[1:] <= e[:-1] + 1e-12).all()  # exact linearisation: never up
    assert kernel.propose(view, torch.ones(3, dtype=torch.bool)).arrived.all()
    assert torch.allclose(view.eval.energy, LinearEnergy(N, DX, DE, seed=2).minimum(view.graph.node_mask))


def test_a_kernel_from_outside_the_library_runs_as_a_phase():
    target = TargetEnergy(MLPEnergy(DX, DE, seed=0))
    sizes = torch.tensor([4, 5, 3])
    sampler = Sampler([Phase("transport", GreedyTransport(2), 3, EnergySwitch(energy=False, on_arrival=False)),
                       Phase("carbon", ToyKernel(atom=1), 4)])
    states = []
    res = sample(target, None, sizes, sampler, torch.Generator().manual_seed(0), noise=UniformNoise(DX, DE),
                 dtype=torch.float64, callbacks=[lambda s: states.append(s)])
    lab = res.graphs.to_labels()
    assert ((lab.x == 1) | ~lab.node_mask).all() and (lab.e == 0).all()  # isolated atoms of class 1
    assert res.phase_steps["carbon"].tolist() == [4, 4, 4] and (res.transport_steps == 3).all()
    assert (res.counters["toy_moves"] <= 1).all() and (res.switch_reason == SwitchReason.CAP).all()
    assert states[-1].kernel_state["carbon"]["seen"].tolist() == [4, 4, 4]
    assert res.records()[0]["carbon_steps"] == 4 and "toy_moves" in res.records()[0]
    assert res.summary()["mean_carbon_steps"] == 4.0


def test_arrived_chains_move_on_in_the_same_step_or_idle():
    energy = LinearEnergy(N, DX, DE, seed=3)
    sizes = torch.tensor([2, 3])
    kw = dict(noise=UniformNoise(DX, DE), dtype=torch.float64)
    on = sample(energy, None, sizes, two_phase(50, 2, EnergySwitch(energy=False)), torch.Generator().manual_seed(1),
                **kw)
    off = sample(energy, None, sizes, two_phase(50, 2, EnergySwitch(energy=False, on_arrival=False)),
                 torch.Generator().manual_seed(1), **kw)
    assert (on.switch_reason == SwitchReason.ARRIVED).all() and (on.mixing_steps == 2).all()
    assert (on.transport_steps < 50).all() and (on.switch_step == on.transport_steps).all()
    # an arrived chain without on_arrival idles to the cap, without energy evaluations
    assert (off.switch_reason == SwitchReason.CAP).all() and (off.transport_steps == 50).all()
    assert ((off.evaluations - off.proposals + off.noops) == on.evaluations - on.proposals + on.noops).all()
    # a 0-step mixing phase sends switched chains straight to done
    done = sample(energy, None, sizes, two_phase(50, 0), torch.Generator().manual_seed(1), **kw)
    assert (done.mixing_steps == 0).all() and (done.switch_reason == SwitchReason.ARRIVED).all()
    assert torch.equal(done.energy, energy(done.graphs))
