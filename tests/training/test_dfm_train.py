"""The discrete flow-matching baseline end to end: gem-train experiment=qm9_dfm, ge.load, gem-sample."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import compose_train, tiny_overrides

# the molecules of the training tests' smiles_file fixture (a module-scoped run needs its own file)
SMILES = """CCO CC(=O)O c1ccccc1 CCN CC(C)O OCC(O)CO CC#N C1CCCCC1 CC(=O)N COC CCOC(C)=O c1ccncc1 CC(C)(C)O
NCC(=O)O CC=O C=CC=C OC1CCCC1 Cc1ccccc1 CN(C)C FC(F)F O=C=O CCCC CCCCO CC(N)C(=O)O c1ccoc1 c1cc[nH]c1
CCC#C CC(C)C C1CC1 C1COC1 OCCO NC(=O)N CC(C)=O COc1ccccc1 CC[N+](C)(C)C CC(=O)[O-] C[N+](=O)[O-] CCCN
CC(O)C(=O)O OC1CCOC1 CC1CC1 NCCO CCOCC OC(=O)CO""".split()


@pytest.fixture(scope="module")
def dfm_run(tmp_path_factory):
    """A 3-update ``experiment=qm9_dfm`` run (tiny model) on the SMILES fixture; returns (result, folder)."""
    from graph_energy.cli.train import train

    tmp = tmp_path_factory.mktemp("dfm")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEM_DATA_DIR", str(tmp / "data"))
    smi = tmp / "mols.smi"
    smi.write_text("\n".join(SMILES) + "\n")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield train(compose_train(["experiment=qm9_dfm", *tiny_overrides(smi, tmp / "run", max_steps=3)])), tmp
    finally:
        torch.set_num_threads(n)
        mp.undo()


def test_qm9_dfm_composes_with_the_gem_backbone_preset():
    dfm = compose_train(["experiment=qm9_dfm"])
    gem = compose_train(["experiment=qm9"])
    assert dfm.model["_target_"] == "graph_energy.models.flow.FlowTransformer"
    assert dfm.model.head["_target_"] == "graph_energy.models.heads.ClassHead"
    assert dfm.objective["_target_"] == "graph_energy.training.dfm.DFMObjective"
    assert dfm.objective.loss.edge_weight == 5.0
    assert dfm.noise["_target_"] == "graph_energy.noise.MarginalNoise.from_data"
    widths = [k for k in gem.model if k not in ("_target_", "head")]
    assert {k: dfm.model[k] for k in widths} == {k: gem.model[k] for k in widths}
    assert dfm.dataset == gem.dataset and dfm.train == gem.train


def test_three_update_run_trains_and_validates(dfm_run):
    result, _ = dfm_run
    assert result.status == "completed" and result.step == 3
    assert len(result.losses) == 3 and all(torch.isfinite(torch.tensor(result.losses)))
    assert result.val and all(v["val/loss"] > 0 for v in result.val)


def test_dfm_checkpoint_loads_and_samples_with_the_ctmc_sampler(dfm_run, one_thread):
    import graph_energy as ge

    result, _ = dfm_run
    model = ge.load(result.last_checkpoint)
    assert model.kind == "dfm"
    assert model.sampler().names == ("ctmc",)
    s = model.sample(4, seed=1, batch_size=4)
    assert len(s) == 4 and s.summary["evaluations_per_molecule"] == 50.0
    assert [d["evaluations"] for d in s.diagnostics] == [50] * 4
    s.result.graphs.validate()
    again = model.sample(4, seed=1, batch_size=4)
    assert again.smiles == s.smiles and torch.equal(again.result.graphs.e, s.result.graphs.e)
    short = model.sample(3, seed=0, sampler={"_target_": "graph_energy.samplers.Sampler", "phases": [
        {"_target_": "graph_energy.samplers.ctmc.CTMCPhase", "num_steps": 4, "distortion": "cos", "eta": 0.5}]})
    assert short.summary["evaluations_per_molecule"] == 4.0
    with pytest.raises(ValueError, match="use sampler=ctmc"):
        model.sample(2, sampler="paper")
    with pytest.raises(ValueError, match="needs a GEM energy model"):
        model.score(["CCO"])


def test_gem_sample_picks_the_ctmc_sampler_for_a_dfm_checkpoint(dfm_run, capsys):
    from graph_energy.cli.sample import main

    result, tmp = dfm_run
    args = [f"ckpt={result.last_checkpoint}", "num_samples=3", "progress=false", "num_threads=1", "metrics=none",
            "grid=0"]
    # the composed default preset has no ctmc phase to address: name the sampler first
    assert main([*args, f"out={tmp / 'samples'}", "sampler.phases.ctmc.num_steps=5"]) == 2
    assert "no phase named 'ctmc'" in capsys.readouterr().err
    assert main([*args, "out=null"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["mean_ctmc_steps"] == 50.0 and summary["evaluations_per_molecule"] == 50.0
    assert main([*args, f"out={tmp / 'samples'}", "sampler=ctmc", "sampler.phases.ctmc.num_steps=5"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["evaluations_per_molecule"] == 5.0
    assert len((tmp / "samples" / "samples.smi").read_text().splitlines()) == 3
    assert main([*args, "out=null", "sampler=paper"]) == 2
    assert "use sampler=ctmc" in capsys.readouterr().err


def test_an_energy_checkpoint_still_loads_and_samples_through_ge_load(tmp_path, monkeypatch, make_tiny_checkpoint,
                                                                      one_thread):
    import graph_energy as ge

    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    ckpt, _ = make_tiny_checkpoint(tmp_path)
    model = ge.load(ckpt)
    assert model.kind == "energy" and model.sampler("greedy").names == ("transport",)
    s = model.sample(3, seed=0, sampler="greedy", num_nodes=4)
    assert len(s) == 3 and torch.isfinite(torch.as_tensor(s.energies)).all()
    with pytest.raises(ValueError, match="use sampler=default"):
        model.sample(2, sampler="ctmc")
