"""The knob search: grids of config paths, short schedule forms, objectives by name, a real search."""

from pathlib import Path

import pytest
import torch
import yaml

import graph_energy
from graph_energy.calibration import (
    Objective,
    ValidUnique,
    apply_knobs,
    build_objective,
    flatten_grid,
    get_knobs,
    knob_value,
    search_knobs,
)
from graph_energy.config import UnsafeTargetError, get_path, set_path, to_config
from graph_energy.data.spec import MolecularSpec
from graph_energy.samplers import build_sampler

DEFAULT = yaml.safe_load((Path(graph_energy.__file__).parent / "conf" / "sampler" / "default.yaml").read_text())
SPEC = MolecularSpec("toy", ("C", "N", "O"), ("none", "single", "double", "triple"), max_nodes=6)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def test_grids_flat_or_nested_give_the_same_paths():
    nested = {"phases": {"mixing": {"kernel": {"proposal": {"beta_prop": [1.0, 4.0]}, "beta_mh": [[1, 2, 3], 4.0]}},
                         "transport": {"kernel": {"edits_per_step": [2]}}}}
    flat = {"phases.mixing.kernel.proposal.beta_prop": [1.0, 4.0], "phases.mixing.kernel.beta_mh": [[1, 2, 3], 4.0],
            "phases.transport.kernel.edits_per_step": [2]}
    assert flatten_grid(nested) == flat == flatten_grid(flat)
    assert flatten_grid({"phases": {"mixing.max_steps": [1]}}) == {"phases.mixing.max_steps": [1]}
    with pytest.raises(ValueError, match="list of candidate values"):
        flatten_grid({"phases.mixing.max_steps": 3})


def test_knobs_read_and_write_sampler_configs():
    cfg = to_config(build_sampler(DEFAULT))
    paths = ["phases.mixing.kernel.beta_mh", "phases.transport.kernel.edits_per_step"]
    assert get_knobs(cfg, paths) == {paths[0]: [0.78, 7.0, 100], paths[1]: 2}
    assert knob_value({"_target_": "graph_energy.samplers.ConstantSchedule", "value": 3.0}) == 3.0
    new = apply_knobs(cfg, {paths[0]: 40.0, paths[1]: 4})
    assert get_path(cfg, paths[1]) == 2  # the base config is not touched
    s = build_sampler(new)
    assert s.phase("transport").kernel.edits_per_step == 4
    assert s.phase("mixing").kernel.beta_mh(torch.tensor([0, 500])).tolist() == [40.0, 40.0]
    with pytest.raises(ValueError, match="knob paths address the sampler config"):
        get_knobs(cfg, ["beta_prop"])  # the old knob names are not paths
    with pytest.raises(ValueError, match="cannot set knob"):
        apply_knobs(cfg, {"phases.mix.max_steps": 3})


def test_objectives_by_config_and_their_old_names(caplog):
    assert isinstance(build_objective(None), ValidUnique)
    assert isinstance(build_objective({"_target_": "graph_energy.calibration.Validity"}), Objective)
    with caplog.at_level("WARNING"):
        old = build_objective({"_target_": "graph_energy.samplers.search.ValidUniquePerEvaluation", "cost": 0.1})
    assert type(old).__name__ == "ValidUniquePerEvaluation" and old.cost == 0.1
    assert "deprecated" in caplog.text and "graph_energy.calibration.ValidUniquePerEvaluation" in caplog.text
    with pytest.raises(UnsafeTargetError, match="os.getcwd"):
        build_objective({"_target_": "os.getcwd"})
    with pytest.raises(TypeError, match="expected a graph_energy.calibration.Objective"):
        build_objective({"_target_": "graph_energy.samplers.ConstantSchedule", "value": 1.0})


class CarbonEnergy(torch.nn.Module):
    """Lower energy for carbons and single bonds (differentiable in the one-hots)."""

    def forward(self, g):
        return -g.x[..., 0].sum(1) - 0.3 * g.e[..., 1].sum((1, 2)) + 0.5 * g.e[..., 3].sum((1, 2))


class FewerEvaluations(Objective):
    name = "fewer_evaluations"

    def __call__(self, result) -> float:
        return -result.summary()["evaluations_per_molecule"]


def test_search_picks_the_best_candidate_and_rebuilds_it():
    base = to_config(build_sampler(DEFAULT))
    set_path(base, "phases.transport.max_steps", 3)
    set_path(base, "phases.mixing.max_steps", 4)
    grid = {"phases": {"mixing": {"max_steps": [1, 6]}}, "phases.transport.kernel.edits_per_step": [2, 8]}
    seen = []
    result = search_knobs(CarbonEnergy(), SPEC, None, base, grid, FewerEvaluations(), num_samples=6, batch_size=3,
                          num_nodes=4, passes=2, on_row=seen.append,
                          calibration={"quantile": 0.5, "thresholds": {"4": -3.0}})
    # base (4 MH steps), 1 and 6 steps, then the edit counts from the best, twice: repeats are not re-run
    keys = [tuple(sorted((k, str(v)) for k, v in r.knobs.items())) for r in result.rows]
    assert len(result.rows) == len(seen) == len(set(keys)) >= 4
    assert result.best.knobs["phases.mixing.max_steps"] == 1
    assert result.sampler.phase("mixing").max_steps == 1
    assert result.config == to_config(result.sampler)
    assert get_path(result.config, "phases.transport.max_steps") == 3  # fixed budget of the base
    assert result.best.score == max(r.score for r in result.rows)
    table = result.table()
    assert table.splitlines()[0].startswith("max_steps | edits_per_step | score")
