"""Fuzzing the command-line parsing with Hypothesis (``slow``: 10,000 cases per property by default;
``GEM_FUZZ_EXAMPLES=<n>`` changes it): SMILES-valued overrides survive Hydra's override grammar,
typed checks either convert a value or name its key, and ``allowed_targets=`` is taken out of any
argument list."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graph_energy import config as gc
from graph_energy.cli._config import Arg, check_arguments, take_allowed_targets
from graph_energy.cli._smiles_args import quote_smiles_overrides

pytestmark = pytest.mark.slow

FUZZ = int(os.environ.get("GEM_FUZZ_EXAMPLES", "10000"))
fuzz = settings(max_examples=FUZZ, deadline=None, database=None, suppress_health_check=list(HealthCheck))
PARSER = OverridesParser.create()
# SMILES and SMARTS characters, including the ones Hydra's grammar reads itself ([ ] ( ) = # , ' " \ and spaces)
SMILES_CHARS = "CNOSPFIBrcnospl()[]=#-+.@/\\%0123456789H*:$~,;!&' \""


@fuzz
@given(st.text(alphabet=SMILES_CHARS, min_size=1, max_size=40))
def test_smiles_values_survive_the_override_grammar(value):
    def self_quoted(v):
        return len(v) >= 2 and v[0] == v[-1] and v[0] in "'\""

    assume(value != "null" and not self_quoted(value))
    parsed = PARSER.parse_overrides(quote_smiles_overrides([f"a={value}"], ["a"]))[0].value()
    if value.startswith("[") and value.endswith("]") and "," in value:  # a list of SMILES
        items = [v.strip() for v in value[1:-1].split(",")]
        assume(not any(self_quoted(v) for v in items))
        assert parsed == items
    else:
        assert parsed == value


KINDS = st.sampled_from([Arg("int"), Arg("int", 1), Arg("int", 0, 10, optional=True), Arg("float"),
                         Arg("float", 0.0, 1.0), Arg("bool"), Arg("bool", optional=True), Arg("sizes", 1),
                         Arg("sizes", 1, optional=True)])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6), st.floats(allow_nan=True),
                   st.text(max_size=12), st.integers(-100, 100).map(str), st.floats(-10, 10).map(repr),
                   st.lists(st.one_of(st.integers(-3, 20), st.floats(-3, 20)), max_size=3))


@fuzz
@given(KINDS, VALUES)
def test_typed_checks_convert_or_name_the_key(arg, value):
    cfg = {"run": {"key": value}}
    try:
        check_arguments(cfg, {"run.key": arg})
    except ValueError as err:
        assert str(err).startswith("run.key") and "\n" not in str(err)
        return
    out = cfg["run"]["key"]
    if out is None:
        assert arg.optional
        return
    lo = -math.inf if arg.minimum is None else arg.minimum
    hi = math.inf if arg.maximum is None else arg.maximum
    if arg.kind == "bool":
        assert isinstance(out, bool) and out is value
    elif arg.kind == "float":
        assert isinstance(out, float) and not math.isnan(out) and lo <= out <= hi
    elif isinstance(out, list):
        assert arg.kind == "sizes" and len(out) == 2 and all(type(v) is int and lo <= v <= hi for v in out)
        assert out[0] <= out[1]
    else:
        assert type(out) is int and lo <= out <= hi
        if isinstance(value, float):
            assert value == out  # never truncated


HEADS = ("allowed_targets=", "+allowed_targets=", "++allowed_targets=", "allowed_targets", "x=", "sampler.a=", "")
TAIL = "abc._[],'\" =+"


def random_argv(seed: int) -> list[str]:
    """0-5 arguments: ``allowed_targets`` overrides (well formed or not) among other ones."""
    rng = np.random.default_rng(seed)
    return [HEADS[rng.integers(0, len(HEADS))] + "".join(rng.choice(list(TAIL), int(rng.integers(0, 12))).tolist())
            for _ in range(int(rng.integers(0, 6)))]


@fuzz
@given(st.integers(0, 2 ** 63 - 1))
def test_allowed_targets_are_taken_out_of_any_argument_list(seed):
    argv = random_argv(seed)
    before = gc.allowed_targets()
    try:
        rest = take_allowed_targets(argv)
    except ValueError as err:
        assert "allowed_targets" in str(err)
        return
    finally:
        gc._ALLOWED.clear()
        gc._ALLOWED.update(before)
    assert rest == [a for a in argv if a.partition("=")[0].lstrip("+") != "allowed_targets" or "=" not in a]
