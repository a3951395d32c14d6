"""The worked examples of docs/extending.md, run as written through the real entry points.

Blocks labelled ``file=<path>`` are written into a temporary project folder; ``run=<name>`` blocks are
run from that folder (``bash``: every ``gem-*`` line in-process through the console script's
``main(argv)``, or the composed config through ``train(cfg)`` for gem-train; ``python``: executed).
The tests only append overrides that shorten the runs (a tiny model, a few steps, small SMILES files).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shlex
import sys
from pathlib import Path

import pytest
import torch
import yaml

import graph_energy.config as gc
from graph_energy.config import UnsafeTargetError, get_path

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.S | re.M)
MODULES = ("mykernels", "myheads", "myobjectives", "mysources")

SMILES = """CCO CC(=O)O c1ccccc1 CCN CC(C)O OCC(O)CO CC#N C1CCCCC1 CC(=O)N COC CCOC(C)=O c1ccncc1 CC(C)(C)O
NCC(=O)O CC=O C=CC=C OC1CCCC1 Cc1ccccc1 CN(C)C O=C=O CCCC CCCCO CC(N)C(=O)O c1ccoc1 CCC#C CC(C)C
C1CC1 C1COC1 OCCO NC(=O)N CC(C)=O CCCN CC(O)C(=O)O OC1CCOC1 CC1CC1 NCCO CCOCC OC(=O)CO""".split()
TRAIN_SMILES, TEST_SMILES = SMILES[:20], SMILES[20:26]

# overrides the tests append (last one wins): only shorter runs, nothing the examples rely on
SAMPLE_FAST = ["num_samples=4", "batch_size=4", "num_nodes=5", "grid=0", "metrics=none", "progress=false",
               "num_threads=1", "auto_calibrate=false"]
TRAIN_FAST = ["tracker=none", "train.max_steps=2", "train.batch_size=4", "train.log_every=1", "train.val_every=2",
              "train.val_batches=1", "train.ckpt_every=0", "train.device=cpu", "train.num_threads=1",
              "optim.schedule.warmup_steps=1", "dataset.workers=1"]


def blocks() -> list[dict]:
    """Every fenced block of the page: ``lang``, its ``key=value`` labels and ``text``."""
    out = []
    for m in FENCE.finditer(DOC.read_text()):
        labels = dict(kv.split("=", 1) for kv in m.group(2).split() if "=" in kv)
        out.append({"lang": m.group(1), "labels": labels, "text": m.group(3)})
    return out


def run_block(name: str) -> dict:
    found = [b for b in blocks() if b["labels"].get("run") == name]
    assert len(found) == 1, f"docs/extending.md needs exactly one block labelled run={name}"
    return found[0]


def commands(name: str) -> list[list[str]]:
    """The ``gem-*`` command lines of a ``bash`` block, split like a shell would (``PYTHONPATH=.`` checked)."""
    block = run_block(name)
    assert block["lang"] == "bash"
    out = []
    for line in block["text"].replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        argv = shlex.split(line)
        env = [a for a in argv if re.match(r"^[A-Z_]+=", a)]
        assert env == ["PYTHONPATH=."], f"{line!r}: the examples run with PYTHONPATH=. from the project folder"
        out.append(argv[len(env):])
    return out


def gem(argv: list[str], *extra: str, capsys=None):
    """Run one documented command in-process with ``extra`` overrides appended.

    Returns ``(exit status, stdout, stderr)`` for gem-sample/-calibrate/-data, the TrainResult for gem-train.
    """
    prog, args = argv[0], [*argv[1:], *extra]
    if prog == "gem-train":  # what gem-train's main() does before Hydra composes the same overrides
        from hydra import compose, initialize_config_module

        from graph_energy.cli._config import take_allowed_targets
        from graph_energy.cli.train import _check_train_keys, train

        args = take_allowed_targets(args)
        _check_train_keys(args)
        with initialize_config_module("graph_energy.conf", version_base="1.3"):
            cfg = compose("train", overrides=args)
        return train(cfg)
    from graph_energy.cli import calibrate, data, sample

    main = {"gem-sample": sample.main, "gem-calibrate": calibrate.main, "gem-data": data.main}[prog]
    if capsys is not None:
        capsys.readouterr()
    rc = main(args)
    outerr = capsys.readouterr() if capsys is not None else None
    return rc, (outerr.out if outerr else ""), (outerr.err if outerr else "")


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def logged(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def project(tmp_path_factory, make_tiny_checkpoint):
    """The documented project folder (modules, myconf/, SMILES files) as the working directory and on
    ``sys.path``; a private data cache; ``(folder, tiny checkpoint, SMILES file)``."""
    root = tmp_path_factory.mktemp("myproject")
    for b in blocks():
        if "file" in b["labels"]:
            path = root / b["labels"]["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(b["text"])
    (root / "train.smi").write_text("\n".join(TRAIN_SMILES) + "\n")
    (root / "test.smi").write_text("\n".join(TEST_SMILES) + "\n")
    (root / "mols.smi").write_text("\n".join(SMILES) + "\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEM_DATA_DIR", str(root / "data"))
    mp.setenv("GEM_RUNS_DIR", str(root / "runs"))
    mp.chdir(root)
    mp.syspath_prepend(str(root))
    ckpt = make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))[0]
    yield root, ckpt, root / "mols.smi"
    mp.undo()
    for m in MODULES:
        sys.modules.pop(m, None)


@pytest.fixture(autouse=True)
def fresh_allow_list(monkeypatch, one_thread):
    """Each test starts with no extra allowed targets (the CLI and the examples add to the list)."""
    monkeypatch.setattr(gc, "_ALLOWED", set())


def exec_block(name: str) -> dict:
    block = run_block(name)
    assert block["lang"] == "python"
    namespace: dict = {"__name__": f"docs_extending_{name.replace('-', '_')}"}
    exec(compile(block["text"], f"docs/extending.md[{name}]", "exec"), namespace)
    return namespace


# ------------------------------------------------------------------------------------------ the page


def test_every_code_block_is_labelled_and_every_run_block_is_tested():
    found = blocks()
    unlabelled = [b["text"][:60] for b in found if b["lang"] in ("python", "yaml")
                  and not ({"file", "run"} & set(b["labels"]))]
    assert unlabelled == []
    runs = {b["labels"]["run"] for b in found if "run" in b["labels"]}
    assert runs == TESTED_RUN_BLOCKS
    files = {b["labels"]["file"] for b in found if "file" in b["labels"]}
    assert files == {"mykernels.py", "myheads.py", "myobjectives.py", "mysources.py", "myconf/sampler/flip.yaml",
                     "myconf/model/tiny_linear.yaml", "myconf/objective/regularised.yaml",
                     "myconf/dataset/train_test.yaml"}


TESTED_RUN_BLOCKS = {"kernel", "kernel-inline", "kernel-python", "head", "head-finetune", "head-inline",
                     "head-python", "objective", "objective-inline", "source", "source-inline", "together"}


# ------------------------------------------------------------------------------------------ 1. kernel


def test_kernel_example(project, capsys, caplog):
    caplog.set_level(logging.INFO, logger="graph_energy")
    root, ckpt, _ = project
    (cmd,) = commands("kernel")
    rc, out, err = gem(cmd, f"ckpt={ckpt}", *SAMPLE_FAST, "sampler.phases.transport.max_steps=3",
                       "sampler.phases.flip.max_steps=6", capsys=capsys)
    assert rc == 0, err
    assert "EdgeFlipMH(beta=4.0)" in caplog.text  # the knob set on the command line, in the logged sampler
    rows = csv_rows(root / "flip_samples" / "samples.csv")
    assert len(rows) == 4 and all(r["flip_steps"] == "6" and r["proposals"] == "6" for r in rows)
    flips = [int(r["flips"]) for r in rows]
    assert all(0 <= f <= int(r["accepted"]) <= 6 for f, r in zip(flips, rows)) and sum(flips) > 0
    # every flip try is one energy evaluation (five atoms always have a pair to flip)
    assert all(int(r["evaluations"]) >= 1 + 6 for r in rows)
    summary = last_json(out)
    assert summary["acceptance_rate"] == pytest.approx(sum(int(r["accepted"]) for r in rows) / 24)

    (inline,) = commands("kernel-inline")
    rc, _, err = gem(inline, f"ckpt={ckpt}", *SAMPLE_FAST, "sampler.phases.0.max_steps=2",
                     "sampler.phases.1.max_steps=5", capsys=capsys)
    assert rc == 0, err
    rows = csv_rows(root / "mixing_flip" / "samples.csv")
    assert all(r["mixing_steps"] == "5" and r["proposals"] == "5" and "flips" in r for r in rows)


def test_kernel_example_from_python(project):
    from graph_energy.noise import UniformNoise
    from graph_energy.samplers import ChainView, TargetEnergy, build_sampler
    from graph_energy.training import load_energy_model

    root, ckpt, _ = project
    flip_yaml = yaml.safe_load((root / "myconf/sampler/flip.yaml").read_text())
    with pytest.raises(UnsafeTargetError, match=r"mykernels\.EdgeFlipMH"):
        build_sampler(flip_yaml)  # a file is data until the module is allowed
    ns = exec_block("kernel-python")
    kernel = ns["kernel"]
    assert type(kernel).__name__ == "EdgeFlipMH" and kernel.beta == 2.0 and repr(kernel) == "EdgeFlipMH(beta=2.0)"
    assert ns["written"]["phases"][1]["kernel"] == {"_target_": "mykernels.EdgeFlipMH", "beta": 2.0}
    assert build_sampler(ns["written"]).phase("flip").kernel.beta == 2.0  # written back, rebuilt

    # one step outside the driver: an accepted move changes exactly one bond, symmetrically
    loaded = load_energy_model(ckpt)
    target = TargetEnergy(loaded.model)
    spec = loaded.spec
    graph = UniformNoise(spec.num_atom_types, spec.num_bond_types).sample(torch.tensor([5, 4, 1, 3]),
                                                                          torch.Generator().manual_seed(0))
    view = ChainView.start(graph, target.evaluate(graph))
    st = kernel.step(view, target, generator=torch.Generator().manual_seed(1))
    cand = st.candidate.labels
    assert torch.equal(cand.x, view.labels.x) and torch.equal(cand.e, cand.e.transpose(1, 2))
    assert (cand.e != view.labels.e).flatten(1).sum(1).tolist() == [2, 2, 0, 2]  # the 1-atom chain has no pair
    assert st.candidate.changed.tolist() == [True, True, False, True]
    assert st.counters["flips"].tolist() == (st.accepted & st.candidate.changed).long().tolist()
    dE = (st.eval.energy - view.eval.energy).double()
    assert torch.equal(st.log_alpha[:2], -2.0 * dE[:2])  # symmetric proposal: the energy difference alone

    # the example keeps supports_frozen = False: the driver refuses it for frozen chains
    from graph_energy.samplers import FrozenMask, sample

    with pytest.raises(ValueError, match="do not respect frozen coordinates"):
        sample(target, spec, sampler=ns["sampler"], initial=graph, frozen=FrozenMask.none(graph.to_labels()),
               generator=torch.Generator().manual_seed(0))

    # the same rule for a YAML file given to graph_energy.load(...).sample
    import graph_energy as ge

    small = root / "flip_small.yaml"
    flip_yaml["phases"][0]["max_steps"], flip_yaml["phases"][1]["max_steps"] = 2, 3
    small.write_text(yaml.safe_dump(flip_yaml))
    samples = ge.load(ckpt).sample(2, seed=0, num_nodes=4, sampler=str(small))
    assert [d["flip_steps"] for d in samples.diagnostics] == [3, 3]


# ------------------------------------------------------------------------------------------ 2. head


def test_head_example(project, capsys):
    from graph_energy.models.heads import pooled_sums
    from graph_energy.noise import UniformNoise
    from graph_energy.training import load_checkpoint

    root, _, smi = project
    data = ["dataset=smiles", f"dataset.source.path={smi}"]
    train_cmd, sample_cmd = commands("head")
    res = gem(train_cmd, *data, *TRAIN_FAST)
    assert res.status == "completed" and res.step == 2
    path = root / "runs/linear/checkpoints/last.pt"
    ck = load_checkpoint(path)
    assert ck.config["model"]["head"] == {"_target_": "myheads.LinearEnergyHead", "_partial_": True,
                                          "use_global": False}
    assert ck.config["model"]["n_layers"] == 2  # the rest is the library's tiny preset
    assert {k: tuple(v.shape) for k, v in ck.model.items() if k.startswith("head.")} == {"head.linear.weight": (1, 24)}

    rc, _, err = gem(sample_cmd, *SAMPLE_FAST, "sampler.phases.0.max_steps=2", "sampler.phases.1.max_steps=2",
                     capsys=capsys)
    assert rc == 0, err
    assert len(csv_rows(root / "linear_samples" / "samples.csv")) == 4
    gc._ALLOWED.clear()
    rc, _, err = gem([a for a in sample_cmd if not a.startswith("allowed_targets")], *SAMPLE_FAST, "out=null",
                     capsys=capsys)
    assert rc == 2 and "myheads.LinearEnergyHead" in err and "allowed_targets" in err

    gc._ALLOWED.clear()
    ns = exec_block("head-python")
    model, head = ns["model"].model, ns["head"]
    assert type(head).__name__ == "LinearEnergyHead" and head.width == 24
    g = UniformNoise(model.spec.num_atom_types, model.spec.num_bond_types).sample(
        torch.tensor([5, 3, 7]), torch.Generator().manual_seed(0))
    pooled = pooled_sums(model.encode(g), model.spec.max_nodes)[:, :24]
    with torch.no_grad():  # the loaded (EMA) weights of the checkpoint, one linear map of the pooled features
        torch.testing.assert_close(model(g), pooled @ head.linear.weight[0])

    # fine-tuning from this checkpoint reads its model config: a file, so the head must be allowed
    (ft,) = commands("head-finetune")
    gc._ALLOWED.clear()
    res = gem(ft, *data, *TRAIN_FAST)
    assert res.status == "completed" and gc.allowed_targets() == {"myheads."}
    assert load_checkpoint(root / "runs/linear_ft/checkpoints/last.pt").extras["init_from"] == str(path.absolute())
    gc._ALLOWED.clear()
    with pytest.raises(UnsafeTargetError, match=r"myheads\.LinearEnergyHead"):
        gem([a for a in ft if not a.startswith("allowed_targets")], *data, *TRAIN_FAST)

    (inline,) = commands("head-inline")
    assert gem(inline, *data, *TRAIN_FAST).status == "completed"
    inline_ck = load_checkpoint(root / "runs/linear_inline/checkpoints/last.pt")
    assert inline_ck.config["model"]["head"] == ck.config["model"]["head"]
    # the same seed, model and data: the same initial weights, hence the same trained ones
    assert torch.equal(inline_ck.model["head.linear.weight"], ck.model["head.linear.weight"])


# ------------------------------------------------------------------------------------------ 3. objective


def test_objective_example(project):
    root, _, smi = project
    data = ["dataset=smiles", f"dataset.source.path={smi}", "model=tiny"]
    (cmd,) = commands("objective")
    res = gem(cmd, *data, *TRAIN_FAST)
    assert res.status == "completed"
    rows = logged(root / "runs/regularised")
    train_rows = [r for r in rows if "train/loss" in r]
    assert [r["step"] for r in train_rows] == [1, 2]
    for r in train_rows:  # loss = L_T + alpha * mean E(x_1)^2 with the alpha of the command line
        assert r["train/energy_reg"] > 0
        expected = r["train/loss_x"] + r["train/loss_e"] + 0.05 * r["train/energy_reg"]
        assert r["train/loss"] == pytest.approx(expected, rel=1e-5)
    assert any("val/loss" in r for r in rows)

    (inline,) = commands("objective-inline")
    assert gem(inline, *data, *TRAIN_FAST).status == "completed"
    inline_rows = [r for r in logged(root / "runs/regularised_inline") if "train/loss" in r]
    assert [r["train/loss"] for r in inline_rows] == [r["train/loss"] for r in train_rows]


# ------------------------------------------------------------------------------------------ 4. source


def test_source_example(project, capsys, tmp_path):
    from graph_energy.data import load_dataset

    root, _, _ = project
    (cmd,) = commands("source")
    rc, out, err = gem(cmd, "dataset.workers=1", capsys=capsys)
    assert rc == 0, err
    summary = last_json(out)
    assert summary["dataset"] == "train_test" and summary["rows_read"] == 26
    assert summary["split_sizes"] == {"train": 18, "val": 2, "test": 6}  # lines 1 and 11 held out
    assert summary["protocol"] == "val = every 10th line of train.smi"
    rc, out, _ = gem(cmd, "dataset.workers=1", capsys=capsys)
    assert last_json(out)["cache_hit"]

    # the same files in another folder: the same cache (split_settings leaves the paths out)
    for name in ("train.smi", "test.smi"):
        (tmp_path / name).write_text((root / name).read_text())
    rc, out, _ = gem(cmd, "dataset.workers=1", f"dataset.source.train={tmp_path / 'train.smi'}",
                     f"dataset.source.test={tmp_path / 'test.smi'}", capsys=capsys)
    assert last_json(out)["cache_hit"] and last_json(out)["cache_dir"] == summary["cache_dir"]

    (inline,) = commands("source-inline")
    rc, out, err = gem(inline, "dataset.workers=1", capsys=capsys)
    assert rc == 0, err
    assert last_json(out)["split_sizes"] == summary["split_sizes"] and last_json(out)["cache_hit"]

    rc, _, err = gem(cmd[:3], "dataset.workers=1", capsys=capsys)  # no files given
    assert rc == 2 and "dataset.source.train=<file>" in err

    # a dataset config read back from a file (as from a checkpoint) needs the module allowed
    stored = {"_target_": "graph_energy.data.load_dataset", "source": {"_target_": "mysources.TrainTestFiles",
              "train": "train.smi", "test": "test.smi", "val_every": 10}, "workers": 1}
    with pytest.raises(UnsafeTargetError, match=r"mysources\.TrainTestFiles"):
        load_dataset(stored)
    gc.allow_targets("mysources.")
    assert load_dataset(stored).cache_hit


# ------------------------------------------------------------------------------------------ 5. together


def test_all_four_together(project, capsys, caplog):
    from graph_energy.training import load_checkpoint

    root, _, _ = project
    train_cmd, calibrate_cmd, sample_cmd = commands("together")
    res = gem(train_cmd, *TRAIN_FAST)
    assert res.status == "completed"
    cfg = load_checkpoint(root / "runs/mine/checkpoints/last.pt").config
    assert (cfg["model"]["head"]["_target_"], cfg["objective"]["_target_"], cfg["dataset"]["source"]["_target_"]) \
        == ("myheads.LinearEnergyHead", "myobjectives.RegularisedTransport", "mysources.TrainTestFiles")
    assert any("train/energy_reg" in r for r in logged(root / "runs/mine"))

    calibrate_fast = ["num_graphs=20", "search.num_samples=3", "search.batch_size=3", "num_threads=1",
                      "base.phases.transport.max_steps=3", "base.phases.flip.max_steps=4",
                      "search.grid.phases.transport.kernel.edits_per_step=[1,4]"]
    rc, out, err = gem(calibrate_cmd, *calibrate_fast, capsys=capsys)
    assert rc == 0, err
    summary = last_json(out)
    assert set(summary["best_knobs"]) == {"phases.transport.kernel.edits_per_step", "phases.flip.kernel.beta"}
    assert summary["best_knobs"]["phases.flip.kernel.beta"] in (1.0, 2.0, 4.0)
    written = yaml.safe_load((root / "calib/sampler.yaml").read_text())
    assert get_path(written, "phases.flip.kernel._target_") == "mykernels.EdgeFlipMH"
    assert get_path(written, "phases.flip.kernel.beta") == summary["best_knobs"]["phases.flip.kernel.beta"]
    assert get_path(written, "phases.flip.max_steps") == 4

    sample_fast = ["num_samples=4", "batch_size=4", "grid=0", "metrics=basic", "n_jobs=1", "progress=false",
                   "num_threads=1"]
    rc, out, err = gem(sample_cmd, *sample_fast, capsys=capsys)
    assert rc == 0, err
    summary = last_json(out)
    assert {"validity", "uniqueness", "novelty"} <= set(summary["metrics"])  # against the source's training split
    rows = csv_rows(root / "mine_samples/samples.csv")
    assert len(rows) == 4 and all(r["flip_steps"] == "4" and "flips" in r for r in rows)

    # what each allowed module is for (myheads: see test_head_example)
    def without(prefix):
        gc._ALLOWED.clear()
        allowed = [m for m in MODULES if m != prefix and m != "myobjectives"]
        return [*[a for a in sample_cmd if not a.startswith("allowed_targets")],
                f"allowed_targets=[{','.join(m + '.' for m in allowed)}]", *sample_fast, "out=null"]

    rc, _, err = gem(without("mykernels"), capsys=capsys)
    assert rc == 2 and "mykernels.EdgeFlipMH" in err
    caplog.clear()
    rc, out, err = gem(without("mysources"), capsys=capsys)
    assert rc == 0 and "metrics" not in last_json(out)  # warned, no metrics
    assert "could not evaluate" in caplog.text and "mysources.TrainTestFiles" in caplog.text

    # a grid knob the base sampler does not have is an error (the default grid searches phases.mixing)
    gc._ALLOWED.clear()
    rc, _, err = gem([a for a in calibrate_cmd if a != "~search.grid.phases.mixing"], *calibrate_fast,
                     "out=null", capsys=capsys)
    assert rc == 2 and "mixing" in err
