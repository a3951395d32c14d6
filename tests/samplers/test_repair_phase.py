"""with_repair: the phase it appends (kernel, temperature, proposal, switch) and when it appends none."""

import pytest

from graph_energy.samplers import (
    DiscreteLangevinMH,
    GreedyTransport,
    LangevinProposal,
    LinearSchedule,
    Phase,
    Sampler,
    TermSwitch,
)
from graph_energy.samplers.repair import with_repair


def two_phases() -> Sampler:
    mh = DiscreteLangevinMH(LangevinProposal(4.0, 3.0, 2.5), LinearSchedule(0.78, 7.0, 100))
    return Sampler([Phase("transport", GreedyTransport(2), 100), Phase("mixing", mh, 200)])


def test_repair_phase_runs_last_at_the_final_temperature_with_a_flatter_proposal():
    s = with_repair(two_phases(), 300, ["valid", "valence"])
    assert s.names == ("transport", "mixing", "repair")
    rep = s.phase("repair")
    assert rep.max_steps == 300 and isinstance(rep.kernel, DiscreteLangevinMH)
    assert rep.kernel.beta_mh.final() == pytest.approx(7.0)
    assert float(rep.kernel.beta_mh(__import__("torch").tensor([0]))[0]) == pytest.approx(7.0)  # constant
    p = rep.kernel.proposal
    assert (p.beta_prop, p.lambda_x, p.lambda_e) == (1.0, 3.0, 2.5)
    assert isinstance(rep.switch, TermSwitch) and rep.switch.terms == ["valid", "valence"]
    kept = with_repair(two_phases(), 300, ["valid"], beta_prop=None).phase("repair").kernel.proposal
    assert kept.beta_prop == 4.0


def test_no_repair_phase_for_zero_steps_or_twice():
    base = two_phases()
    assert with_repair(base, 0, ["valid"]) is base
    once = with_repair(base, 10, ["valid"])
    assert with_repair(once, 10, ["valid"]) is once


def test_transport_only_sampler_gets_the_library_mh_kernel():
    s = with_repair(Sampler([Phase("transport", GreedyTransport(), 50)]), 20, ["valid"])
    k = s.phase("repair").kernel
    assert isinstance(k, DiscreteLangevinMH) and k.beta_mh.final() == pytest.approx(1.0)
