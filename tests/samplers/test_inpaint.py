"""Scaffold-constrained generation with the bundled QM9 model: the fixed part is kept exactly (so every
valid sample contains it), decorate grows only at attachment points, link joins fragments; API and
gem-sample entry points; sizes and bad input."""

import json

import numpy as np
import pytest
import torch

from graph_energy import api
from graph_energy.chem.fragments import parse_template

BUNDLED = api._ASSETS / api.BUNDLED_MODELS["qm9"]
pytestmark = pytest.mark.skipif(not BUNDLED.is_file(), reason=f"no bundled model graph_energy/assets/{BUNDLED.name}")
SHORT = {"_target_": "graph_energy.samplers.Sampler", "phases": [
    {"_target_": "graph_energy.samplers.Phase", "name": "transport", "max_steps": 10,
     "kernel": {"_target_": "graph_energy.samplers.GreedyTransport", "edits_per_step": 2}},
    {"_target_": "graph_energy.samplers.Phase", "name": "mixing", "max_steps": 16,
     "kernel": {"_target_": "graph_energy.samplers.DiscreteLangevinMH",
                "proposal": {"_target_": "graph_energy.samplers.LangevinProposal", "beta_prop": 4.0,
                             "lambda_x": 3.0, "lambda_e": 2.5}, "beta_mh": [0.78, 7.0, 8]}}]}


@pytest.fixture(scope="module")
def qm9():
    import graph_energy as ge

    return ge.load("qm9")


def fixed_block_kept(result, template):
    lab = result.result.graphs.to_labels()
    k = template.num_atoms
    return bool((lab.x[:, :k] == torch.as_tensor(template.x)).all()
                and (lab.e[:, :k, :k] == torch.as_tensor(template.e)).all())


@pytest.mark.usefixtures("one_thread")
def test_scaffold_is_kept_and_contained(qm9):
    s = qm9.sample(8, seed=0, num_nodes=9, scaffold="c1ccncc1", sampler=SHORT)
    t = parse_template("c1ccncc1", qm9.spec)
    assert fixed_block_kept(s, t) and (s.num_nodes == 9).all()
    valid = s.valid_smiles
    assert len(valid) >= 6 and all(t.contained_in(v) for v in valid)
    again = qm9.sample(8, seed=0, num_nodes=9, scaffold="c1ccncc1", sampler=SHORT)
    assert again.smiles == s.smiles and np.array_equal(again.energies, s.energies)


@pytest.mark.usefixtures("one_thread")
def test_decorate_grows_only_at_the_attachment_point(qm9):
    s = qm9.sample(8, seed=1, num_nodes=8, scaffold="[*]c1ccncc1", sampler=SHORT)
    t = parse_template("[*]c1ccncc1", qm9.spec)
    lab = s.result.graphs.to_labels()
    closed = torch.as_tensor(~t.attach)
    assert fixed_block_kept(s, t) and not lab.e[:, :6][:, closed][:, :, 6:].any()
    assert (lab.e[:, :6][:, ~closed][:, :, 6:] > 0).any()   # the open atom does bond to the free part


@pytest.mark.usefixtures("one_thread")
def test_link_joins_two_fragments(qm9):
    s = qm9.sample(8, seed=2, num_nodes=9, scaffold=["[*]C1CC1", "[*]C(=O)O"], sampler=SHORT)
    t = parse_template(["[*]C1CC1", "[*]C(=O)O"], qm9.spec)
    assert fixed_block_kept(s, t)
    linked = [v for v in s.valid_smiles if "." not in v]
    assert len(linked) >= 5 and all(t.contained_in(v) for v in linked)


def test_sizes_and_bad_scaffolds(qm9):
    with pytest.raises(ValueError, match=r"at least 6 nodes \(6 fixed atoms\)"):
        qm9.sample(4, num_nodes=5, scaffold="c1ccncc1")
    with pytest.raises(ValueError, match="plus one free atom to link"):
        qm9.sample(4, num_nodes=5, scaffold="[*]C1CC1.[*]CO")
    with pytest.raises(ValueError, match="atom Br is outside"):
        qm9.sample(4, scaffold="c1ccc(Br)cc1")
    from graph_energy.samplers import inpaint_sizes

    sizes = inpaint_sizes(500, None, qm9.stats, torch.Generator().manual_seed(0), 8)
    assert int(sizes.min()) >= 8 and set(sizes.tolist()) <= {8, 9}


@pytest.mark.usefixtures("one_thread")
def test_gem_sample_scaffold(tmp_path, capsys):
    from graph_energy.cli.sample import main

    short = ["sampler.phases.transport.max_steps=10", "sampler.phases.mixing.max_steps=10"]
    status = main(["scaffold=[*]c1ccncc1", "num_nodes=9", "num_samples=4", f"out={tmp_path / 's'}", "metrics=none",
                   "grid=0", "progress=false", "log_level=WARNING", *short])
    out = capsys.readouterr()
    assert status == 0 and json.loads(out.out)["num_samples"] == 4
    rows = (tmp_path / "s" / "samples.smi").read_text().splitlines()
    t = parse_template("[*]c1ccncc1", api.load("qm9").spec)
    assert len(rows) == 4 and all(t.contained_in(r) for r in rows if r)
    status = main(["scaffold=[*]C1CC1(", "num_samples=2", "out=null", "metrics=none", "log_level=WARNING"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("gem-sample: error: scaffold '[*]C1CC1(' is neither valid SMILES")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.usefixtures("one_thread")
def test_repair_phase_makes_every_scaffold_sample_valid(qm9):
    """A fixed ring carbon with one free valence keeps a second bond to the free atoms in some chains; the
    repair phase (exact validity term, flatter proposal) takes those chains on until they are valid (the
    two runs differ in more than the repair: the validity term also enters the earlier MH tests)."""
    kw = dict(seed=3, num_nodes=9, scaffold="C1=CCCC1", sampler=SHORT)
    plain = qm9.sample(24, repair=0, **kw)
    fixed = qm9.sample(24, repair=400, **kw)
    assert "repair" not in plain.result.phase_steps
    bad = [i for i, s in enumerate(plain.smiles) if s is None]
    assert bad, "the short sampler leaves some chains invalid (what the repair phase is for)"
    assert all(s is not None for s in fixed.smiles)
    t = parse_template("C1=CCCC1", qm9.spec)
    assert fixed_block_kept(fixed, t) and all(t.contained_in(s) for s in fixed.smiles)
    steps = fixed.result.phase_steps["repair"]
    # chains valid after mixing pass the phase without a step; the others took steps, under the cap
    assert (steps == 0).sum() >= len(plain.smiles) // 2 and 0 < int(steps.max()) < 400


@pytest.mark.usefixtures("one_thread")
def test_repair_phase_follows_a_valid_term_without_a_scaffold(qm9):
    """Plain sampling gets the repair phase exactly when its target has the exact ``valid`` term, and the
    chains it leaves are then all valid (those that ended valid took no repair step)."""
    kw = dict(seed=5, num_nodes=9, sampler=SHORT)
    plain = qm9.sample(32, **kw)
    assert "repair" not in plain.result.phase_steps  # no exact validity term: the sampler is unchanged
    assert any(s is None for s in plain.smiles), "the short sampler leaves some chains invalid"
    held = qm9.sample(32, terms=["valid"], **kw)
    steps = held.result.phase_steps["repair"]
    assert all(s is not None for s in held.smiles)
    assert (steps == 0).any() and int(steps.max()) > 0
    assert "repair" not in qm9.sample(32, terms=["valid"], repair=0, **kw).result.phase_steps
