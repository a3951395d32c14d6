"""The frame every console script shares: help, one JSON line, errors as exit status 2, Ctrl-C as 130."""

import json

import pytest

from graph_energy.cli._config import json_safe, run_cli


def compose(argv):
    if "bad" in argv:
        raise ValueError("unknown option 'bad'; pass key=value")
    return {"log_level": "WARNING", "argv": argv}


def test_body_line_goes_to_stdout(capsys):
    assert run_cli("gem-x", "doc", ["a=1"], compose, lambda cfg: json.dumps(cfg["argv"])) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == ["a=1"] and out.err == ""


def test_help_prints_the_doc_and_runs_nothing(capsys):
    def body(cfg):
        raise AssertionError("body must not run for --help")

    assert run_cli("gem-x", "usage: gem-x key=value", ["--help"], compose, body) == 0
    assert "usage: gem-x" in capsys.readouterr().out


@pytest.mark.parametrize("argv, body_error, status, message", [
    (["bad"], None, 2, "gem-x: error: unknown option 'bad'"),
    (["ok"], FileNotFoundError("no such checkpoint x.pt"), 2, "gem-x: error: no such checkpoint x.pt"),
    (["ok"], KeyboardInterrupt(), 130, "gem-x: interrupted"),
])
def test_errors_become_one_stderr_line_and_a_status(capsys, argv, body_error, status, message):
    def body(cfg):
        raise body_error

    assert run_cli("gem-x", None, argv, compose, body) == status
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.strip().startswith(message) and len(out.err.strip().splitlines()) == 1


def test_unexpected_errors_are_not_swallowed():
    def body(cfg):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_cli("gem-x", None, [], compose, body)


def test_json_safe_replaces_non_finite_floats():
    assert json_safe({"a": float("nan"), "b": [1.0, float("inf")], "c": (2, "x")}) == {"a": None, "b": [1.0, None],
                                                                                       "c": [2, "x"]}
