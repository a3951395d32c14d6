"""Import rules of the package layout (ARCHITECTURE.md): every import statement in the library,
including the lazy ones inside functions, is checked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import graph_energy

PKG = Path(graph_energy.__file__).resolve().parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module imported anywhere in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


MODULES = {_module_name(p): _imports(p) for p in sorted(PKG.rglob("*.py"))}


def _offenders(importer_prefix: str | None, imported_prefixes: tuple[str, ...], exempt=()) -> list[str]:
    bad = []
    for mod, imports in MODULES.items():
        if importer_prefix is not None and not (mod == importer_prefix or mod.startswith(importer_prefix + ".")):
            continue
        if any(mod == e or mod.startswith(e + ".") for e in exempt):
            continue
        for imp in sorted(imports):
            if any(imp == p or imp.startswith(p + ".") for p in imported_prefixes):
                bad.append(f"{mod} imports {imp}")
    return bad


def test_the_rules_see_real_imports():
    # the checker itself must find known imports, or every rule below passes vacuously
    assert "graph_energy.cli._config" in MODULES["graph_energy.cli.sample"]
    assert "torch" in MODULES["graph_energy.models.transformer"]
    assert len(MODULES) > 50


def test_library_never_imports_cli():
    assert _offenders("graph_energy", ("graph_energy.cli",), exempt=("graph_energy.cli",)) == []


def test_only_cli_imports_hydra():
    assert _offenders("graph_energy", ("hydra",), exempt=("graph_energy.cli",)) == []


def test_only_tracking_imports_wandb():
    assert _offenders("graph_energy", ("wandb",), exempt=("graph_energy.tracking",)) == []


@pytest.mark.parametrize("layer", ["graph_energy.samplers", "graph_energy.models"])
def test_samplers_and_models_import_no_metrics_or_training(layer):
    assert _offenders(layer, ("graph_energy.metrics", "graph_energy.training", "graph_energy.calibration")) == []


def test_chem_and_data_import_one_way():
    chem_to_data = _offenders("graph_energy.chem", ("graph_energy.data",))
    data_to_chem = _offenders("graph_energy.data", ("graph_energy.chem",))
    assert not (chem_to_data and data_to_chem), (chem_to_data, data_to_chem)


def test_library_never_imports_experiments_or_tests():
    assert _offenders("graph_energy", ("experiments", "tests")) == []
