"""Energy-based switch: per-chain thresholds, calibration round trip, nearest-size fallback."""

import pytest
import torch
from sampler_toys import LinearEnergy, MLPEnergy, two_phase

from graph_energy.noise import UniformNoise
from graph_energy.samplers import (
    Calibration,
    EnergySwitch,
    SwitchReason,
    calibrate_thresholds,
    sample,
)

N, DX, DE = 5, 3, 3


def test_switch_fires_per_chain_at_its_threshold():
    energy = LinearEnergy(N, DX, DE, seed=7)
    sizes = torch.tensor([3, 4, 5, 5, 4, 3])
    noise = UniformNoise(DX, DE)
    init = noise.sample(sizes, torch.Generator().manual_seed(3)).to(torch.float64)
    e0, emin = energy(init), energy.minimum(init.node_mask)
    # thresholds half way between each size's start and minimum (first chain of that size)
    thr = {n: float(0.5 * (e0[i] + emin[i])) for i, n in reversed(list(enumerate(sizes.tolist())))}
    cal = Calibration(0.5, thr)
    sampler = two_phase(100, 4, EnergySwitch(cal))
    trace = []
    res = sample(energy, None, None, sampler, torch.Generator().manual_seed(0), initial=init,
                 dtype=torch.float64,
                 callbacks=[lambda s: trace.append((s.eval.model_energy.clone(), s.in_phase("transport"),
                                                    s.in_phase("mixing")))])
    energies = torch.stack([t[0] for t in trace])  # (steps+1, B)
    transport, mixing = torch.stack([t[1] for t in trace]), torch.stack([t[2] for t in trace])
    th = cal.threshold_for(sizes)
    for b in range(len(sizes)):
        below = (energies[:, b] <= th[b]).nonzero().view(-1)
        first = int(below[0])  # transport energies are monotone here, so the first hit is the switch
        assert res.switch_reason[b] == SwitchReason.THRESHOLD
        assert res.switch_step[b] == first
        assert transport[:first, b].all() and mixing[first, b]
        assert res.transport_steps[b] == first and res.mixing_steps[b] == 4
    # both phases were present in one batch at some step
    assert (transport.any(1) & mixing.any(1)).any()


def test_calibration_quantiles_roundtrip_and_fallback(tmp_path):
    model = MLPEnergy(DX, DE, seed=1)
    sizes = torch.tensor([3] * 40 + [5] * 20)
    graphs = UniformNoise(DX, DE).sample(sizes, torch.Generator().manual_seed(0)).to(torch.float64)
    cal = calibrate_thresholds(model, [graphs.index(slice(0, 30)), graphs.index(slice(30, 60))], 0.25, batch_size=7,
                               method="per_size")
    e = model(graphs).detach()
    assert abs(cal.thresholds[3] - float(torch.quantile(e[:40], 0.25))) < 1e-9
    assert cal.counts == {3: 40, 5: 20}
    t = cal.threshold_for(torch.tensor([1, 3, 4, 5, 9]))
    assert t.tolist() == [cal.thresholds[3], cal.thresholds[3], cal.thresholds[3], cal.thresholds[5],
                          cal.thresholds[5]]
    cal.save(tmp_path / "cal.json")
    assert Calibration.load(tmp_path / "cal.json") == cal
    assert Calibration.from_dict(cal.to_dict()) == cal


def test_threshold_at_start_switches_before_any_step():
    energy = LinearEnergy(N, DX, DE, seed=1)
    sampler = two_phase(50, 0, EnergySwitch(Calibration(0.5, {4: 1e9})))
    res = sample(energy, None, torch.tensor([4, 4]), sampler, torch.Generator().manual_seed(0),
                 noise=UniformNoise(DX, DE), dtype=torch.float64)
    assert (res.transport_steps == 0).all() and (res.switch_step == 0).all()
    assert (res.evaluations == 1).all() and (res.switch_reason == SwitchReason.THRESHOLD).all()


def _window_sampler(settle_cap: int):
    from graph_energy.samplers import DiscreteLangevinMH, LangevinProposal, Phase, Sampler, TermSwitch

    mh = DiscreteLangevinMH(LangevinProposal(2.36, 4.0, 4.83), 1.0)
    return Sampler([Phase("mixing", mh, 2), Phase("settle", mh, settle_cap, TermSwitch(["window"])),
                    Phase("hold", mh, 0)])


def _node0_window(graph):
    """0 while node 0 has class 0, 5 otherwise (a window term on one coordinate)."""
    return torch.where(graph.x[:, 0].argmax(-1) == 0, 0.0, 5.0).to(graph.x.dtype)


def test_term_switch_keeps_only_chains_outside_their_window_mixing():
    from graph_energy.samplers import FunctionTerm

    energy = LinearEnergy(N, DX, DE, seed=3)
    sizes = torch.tensor([3, 4, 5, 5, 4, 3, 5, 4])
    init = UniformNoise(DX, DE).sample(sizes, torch.Generator().manual_seed(1)).to(torch.float64)
    term = FunctionTerm(_node0_window, name="window")
    trace = []
    res = sample(energy, None, None, _window_sampler(300), torch.Generator().manual_seed(0), initial=init,
                 dtype=torch.float64, extra_terms=[term],
                 callbacks=[lambda s: trace.append((s.eval.terms["window"].clone(), s.in_phase("settle").clone(),
                                                    s.phase.clone()))])
    values = torch.stack([t[0] for t in trace])
    in_settle = torch.stack([t[1] for t in trace])
    settle = res.phase_steps["settle"]
    entered = 0
    for b in range(len(sizes)):
        steps_in = in_settle[:, b].nonzero().view(-1)
        if settle[b] == 0:      # inside its window when mixing ended: passed the phase at once
            assert not in_settle[:, b].any()
            continue
        entered += 1
        # it mixed while outside, and left the step its term first reached zero (or at the cap)
        assert (values[steps_in, b] > 0).all()
        after = int(steps_in[-1]) + 1
        assert float(values[after, b]) == 0.0 or settle[b] == 300
    assert entered > 0 and (settle == 0).any()
    assert ((settle > 0) & (settle < 300)).any()   # one chain got in after some steps and left there
    assert ((values[-1] == 0) | (settle == 300)).all()


def test_term_switch_names_a_missing_term():
    from graph_energy.samplers import FunctionTerm

    energy = LinearEnergy(N, DX, DE, seed=3)
    init = UniformNoise(DX, DE).sample(torch.tensor([3, 4]), torch.Generator().manual_seed(1)).to(torch.float64)
    with pytest.raises(KeyError, match=r"TermSwitch checks terms \['window'\] but the target has \['other'\]"):
        sample(energy, None, None, _window_sampler(5), torch.Generator().manual_seed(0), initial=init,
               dtype=torch.float64, extra_terms=[FunctionTerm(_node0_window, name="other")])
