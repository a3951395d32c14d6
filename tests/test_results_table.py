"""The README's results table is generated from the recorded files in experiments/results/."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def table_module():
    spec = importlib.util.spec_from_file_location("results_table", ROOT / "experiments" / "results_table.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["results_table"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("results_table", None)


def test_table_reads_the_committed_files(table_module):
    table = table_module.build_table()
    lines = table.strip().splitlines()
    assert lines[:2] == ["| what | command | result |", "|---|---|---|"]
    rows = lines[2:]
    present = [r for r in table_module.ROWS if r.file() is not None]
    assert len(rows) == len(present) >= 5
    for line, row in zip(rows, present):
        assert line.startswith(f"| {row.what} | `") and line.endswith(f"(`{row.file()}`) |")
    # the figures are the recorded ones, not copies
    rec = json.loads((ROOT / "experiments" / "results" / "qm9_model_sample10000.json").read_text())
    bundled = next(r for r in rows if r.startswith("| bundled QM9 model |"))
    assert f"validity {100 * rec['metrics']['validity']:.1f} %" in bundled
    assert f"FCD {rec['metrics']['fcd/test']:.3f}" in bundled


def test_readme_table_is_up_to_date(table_module):
    readme = (ROOT / "README.md").read_text()
    assert table_module.with_table(readme, table_module.build_table()) == readme, (
        "README.md results table is stale: run python experiments/results_table.py --write")


def test_markers_are_required(table_module, tmp_path):
    with pytest.raises(ValueError, match="results:start"):
        table_module.with_table("no markers here", "| a |\n")
    text = "intro\n<!-- results:start -->\nold\n<!-- results:end -->\nafter\n"
    assert table_module.with_table(text, "| new |\n") == "intro\n<!-- results:start -->\n| new |\n<!-- results:end -->\nafter\n"
    readme = tmp_path / "README.md"
    readme.write_text(text)
    assert table_module.main(["--check", "--readme", str(readme)]) == 1
    assert table_module.main(["--write", "--readme", str(readme)]) == 0
    assert table_module.main(["--check", "--readme", str(readme)]) == 0
