"""The GPU recipes (experiments/gpu/) build their command lines without a GPU (--dry-run)."""

import importlib.util
import sys
from pathlib import Path

import pytest

GPU = Path(__file__).resolve().parents[1] / "experiments" / "gpu"


def load(name):
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", GPU / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("recipe,tools", [("train_qm9_base", ["probe", "phase1", "phase2", "calibrate", "sample"]),
                                          ("train_moses", ["probe", "phase1", "calibrate", "sample"])])
def test_dry_run_prints_every_step(recipe, tools, capsys):
    assert load(recipe).main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    for tool in tools:
        assert f"[{tool}] " in out
    assert "graph_energy.cli.sample" in out and "device=cuda" in out
    sys.modules.pop("common", None)


def test_budget_sizing():
    common = load("common")
    assert common.steps_for_budget(None, 256, 300.0, default=123) == 123
    assert common.steps_for_budget(2560.0, 256, 100.0, default=1) == 950  # 95 % of 100 s at 10 updates/s
