import json

import pytest

from graph_energy.cli import evaluate as cli


def test_compose_protocols():
    cfg = cli.compose_config(["samples=x.smi", "protocol=moses", "dataset=moses"])
    assert cfg["protocol"]["name"] == "moses"
    assert cfg["dataset"]["source"]["_target_"] == "graph_energy.data.sources.MosesSource"
    with pytest.raises(ValueError, match="available protocols"):
        cli.compose_config(["protocol=nope"])


def test_cli_end_to_end(tmp_path, capsys):
    s, r = tmp_path / "s.smi", tmp_path / "r.smi"
    s.write_text("CCO\nc1ccccc1\nnot_a_smiles\n\nCC.O\n")
    r.write_text("CCO\nCCN\nCCC\nOCCO\nCNC\n")
    out = tmp_path / "report.md"
    rc = cli.main([f"samples={s}", f"reference={r}", f"train={r}", "protocol=gdss", f"out={out}",
                   "progress=false", "protocol.metrics=[basic,nspdk,types]"])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    rep = json.loads(line)
    assert rep["num_samples"] == 5 and rep["metrics"]["validity"] == pytest.approx(0.6)
    assert rep["protocol"] == "gdss" and out.read_text().startswith("# Evaluation")


@pytest.mark.parametrize("content,extra,match", [
    ("", [], "empty"),
    ("a,b\n1,2\n", ["column=zz"], "not in samples file"),
])
def test_cli_bad_input_exit_2(tmp_path, capsys, content, extra, match):
    s = tmp_path / "s.csv"
    s.write_text(content)
    rc = cli.main([f"samples={s}", f"reference={s}", f"train={s}", *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("gem-evaluate: error:") and match in err and len(err.splitlines()) == 1


def test_cli_missing_samples(capsys):
    assert cli.main(["samples=/nonexistent/file.smi"]) == 2
