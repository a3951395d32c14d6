"""Samplers: chain state, local moves, proposals, kernels (greedy transport, discrete-Langevin MH),
schedules, switches, the phased sampler and its driver, and extra energy terms.

A sampler is a list of :class:`Phase` objects (kernel × step budget × switch) built from YAML by
``_target_`` (:func:`build_sampler`) and written back with :func:`graph_energy.config.to_config`.
"""

from graph_energy.samplers.build import (
    build_sampler,
    is_legacy_sampler_config,
    legacy_sampler_config,
    sampler_config,
)
from graph_energy.samplers.constraints import ConnectedTerm, num_components
from graph_energy.samplers.driver import driver_step, sample, start_chains
from graph_energy.samplers.frozen import FixedPart, FrozenMask, fixed_start
from graph_energy.samplers.generate import generate, resolve_num_nodes
from graph_energy.samplers.inpaint import generate_inpainted, inpaint_sizes
from graph_energy.samplers.kernels import Candidate, ChainView, Kernel, KernelStep, Proposal, evaluate_changed
from graph_energy.samplers.mixing import (
    DiscreteLangevinMH,
    LangevinProposal,
    mh_accept,
    proposal_log_prob,
    proposal_logits,
    propose,
)
from graph_energy.samplers.moves import Deltas, coordinate_deltas
from graph_energy.samplers.phases import Phase, Sampler
from graph_energy.samplers.repair import REPAIR_TERMS, repair_for, with_repair
from graph_energy.samplers.schedules import (
    ConstantSchedule,
    GeometricSchedule,
    LinearSchedule,
    Schedule,
    as_schedule,
)
from graph_energy.samplers.state import ChainState, SampleResult
from graph_energy.samplers.switch import (
    Calibration,
    EnergySwitch,
    Switch,
    SwitchReason,
    TermSwitch,
    calibrate_thresholds,
)
from graph_energy.samplers.target import EnergyTerm, FunctionTerm, ModelTerm, TargetEnergy, TargetEval
from graph_energy.samplers.thresholds import PerSizeQuantile, PooledQuantile, ThresholdEstimator
from graph_energy.samplers.transport import GreedyTransport, greedy_transport_step

__all__ = [
    "Sampler", "Phase", "sample", "driver_step", "start_chains", "generate", "build_sampler", "sampler_config",
    "legacy_sampler_config", "is_legacy_sampler_config", "resolve_num_nodes",
    "Kernel", "Proposal", "Candidate", "KernelStep", "ChainView", "evaluate_changed",
    "DiscreteLangevinMH", "LangevinProposal", "mh_accept", "proposal_log_prob", "proposal_logits", "propose",
    "GreedyTransport", "greedy_transport_step", "Deltas", "coordinate_deltas",
    "Schedule", "ConstantSchedule", "LinearSchedule", "GeometricSchedule", "as_schedule",
    "ChainState", "SampleResult", "Calibration", "Switch", "EnergySwitch", "TermSwitch", "SwitchReason", "calibrate_thresholds",
    "ThresholdEstimator", "PooledQuantile", "PerSizeQuantile",
    "EnergyTerm", "FunctionTerm", "ModelTerm", "TargetEnergy", "TargetEval",
    "FrozenMask", "FixedPart", "fixed_start", "generate_inpainted", "inpaint_sizes", "ConnectedTerm", "num_components",
    "REPAIR_TERMS", "repair_for", "with_repair",
]
