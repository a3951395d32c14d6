"""Samplers: chain state, local moves, kernels (greedy transport, discrete-Langevin MH), schedules,
the energy switch, the phased driver and extra energy terms."""

from graph_energy.samplers.driver import Sampler, sample
from graph_energy.samplers.generate import build_sampler, generate, resolve_num_nodes, sampler_to_dict
from graph_energy.samplers.mixing import (
    DiscreteLangevinMH,
    mh_accept,
    proposal_log_prob,
    proposal_logits,
    propose,
)
from graph_energy.samplers.moves import Deltas, coordinate_deltas
from graph_energy.samplers.schedules import ConstantSchedule, GeometricSchedule, LinearSchedule, Schedule
from graph_energy.samplers.state import ChainState, Phase, SampleResult
from graph_energy.samplers.switch import Calibration, EnergySwitch, SwitchReason, calibrate_thresholds
from graph_energy.samplers.target import EnergyTerm, FunctionTerm, ModelTerm, TargetEnergy, TargetEval
from graph_energy.samplers.transport import GreedyTransport, greedy_transport_step

__all__ = [
    "Sampler", "sample", "generate", "build_sampler", "sampler_to_dict", "resolve_num_nodes",
    "DiscreteLangevinMH", "mh_accept", "proposal_log_prob", "proposal_logits", "propose",
    "Deltas", "coordinate_deltas", "Schedule", "ConstantSchedule", "LinearSchedule", "GeometricSchedule",
    "ChainState", "Phase", "SampleResult", "Calibration", "EnergySwitch", "SwitchReason",
    "calibrate_thresholds", "EnergyTerm", "FunctionTerm", "ModelTerm", "TargetEnergy", "TargetEval",
    "GreedyTransport", "greedy_transport_step",
]
