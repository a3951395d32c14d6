"""``gem-sample``: draw molecules from a checkpoint and print one JSON summary line.

    gem-sample                                   # 1,000 molecules from the bundled QM9 model into samples/
    gem-sample ckpt=runs/train/<run>/checkpoints/last.pt num_samples=1000 out=samples/
    gem-sample ckpt=... sampler=paper            # the paper protocol (225 transport + 1000 MH steps)
    gem-sample ckpt=... num_nodes=12             # fixed size (at most the model's max_nodes); [10,15]: a range
    gem-sample ckpt=... sampler_file=calib/sampler.yaml calibration=calib/calibration.json
    gem-sample ckpt=... sampler.phases.mixing.max_steps=500   # phases by name (or index: phases.1)
    gem-sample out=samples/ resume=true          # continue an interrupted run (same options)
    gem-sample out=samples/ overwrite=true       # replace an earlier run's files

Writes ``<out>/samples.smi`` (one SMILES per line, empty for invalid graphs), ``<out>/samples.csv``
(per-sample energy, steps per phase, switch step and reason, validity), ``<out>/summary.json`` and
``<out>/samples.png`` (a grid of the first ``grid`` valid molecules with a caption; ``grid=0`` skips it).
Then the samples are evaluated under ``eval_protocol`` against the checkpoint's dataset (``metrics=basic``
skips FCD and NSPDK, ``metrics=none`` skips the evaluation): the table goes to stderr and
``<out>/metrics.md``, the headline numbers into the JSON line. ``out=null`` writes no files.

``out=`` is checked before anything is sampled, and a folder holding an earlier run is refused unless
``overwrite=true`` or ``resume=true``. Batches of ``batch_size`` chains run in ``workers`` processes
(default ``min(2, cores)``), each batch from its own seed, so the samples do not depend on ``workers``;
finished batches are appended to the files at once, so Ctrl-C or SIGTERM keeps them (exit status 130)
and ``resume=true`` continues the run to the same result. In the JSON line, ``uniqueness_smiles`` is the
fraction of distinct whole SMILES among valid samples; the protocol's ``metrics.uniqueness`` counts
distinct largest fragments (DiGress rule).
Errors in the input print one ``gem-sample: error:`` line on stderr and exit with status 2.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from graph_energy.cli._config import json_safe, run_cli
from graph_energy.cli._terms import sampling_terms, term_presets, terms_metadata

__all__ = ["main", "run", "compose_config", "default_checkpoint", "load_sampling_setup", "write_outputs"]

log = logging.getLogger("graph_energy.sample")



def default_checkpoint() -> Path:
    """Path of the bundled default model (the seam for ``ckpt=null``); ``FileNotFoundError`` naming how to
    train and bundle one when the package ships without it."""
    from graph_energy.api import bundled_model_path

    return bundled_model_path("qm9")


def compose_config(overrides: list[str], config_name: str = "sample") -> dict:
    """Compose ``conf/<config_name>.yaml``; sampler phases may be addressed by name as well as by index
    (``sampler.phases.mixing.max_steps=500`` = ``sampler.phases.1.max_steps=500`` for the default sampler)."""
    from graph_energy.cli._config import compose_config as compose

    def run(ovr: list[str]) -> dict:
        return compose(config_name, ovr, {"sampler": "available samplers: default, paper, greedy, mixing, ctmc",
                                          "terms": f"term presets: {', '.join(term_presets())}"})

    from graph_energy.cli._smiles_args import quote_smiles_overrides

    overrides = quote_smiles_overrides(overrides, ("scaffold",))
    named = [o for o in overrides if _NAMED_PHASE.search(_override_key(o))]
    if not named:
        return run(list(overrides))
    base = run([o for o in overrides if o not in named])
    return run([_index_phases(o, base) if o in named else o for o in overrides])


_NAMED_PHASE = re.compile(r"(?:^|\.)phases\.(?!\d+(?:\.|$))[A-Za-z_][\w-]*(?=\.|$)")


def _override_key(override: str) -> str:
    key = override.split("=", 1)[0].lstrip("~+")
    return "" if "@" in key or "/" in key else key


def _index_phases(override: str, cfg: dict) -> str:
    """``override`` with every ``phases.<name>`` that addresses a list of phases rewritten to ``phases.<index>``."""
    from graph_energy.config import get_path

    key = _override_key(override)
    parts = key.split(".")
    for i in range(len(parts) - 1):
        if parts[i] != "phases" or parts[i + 1].isdigit():
            continue
        try:
            phases = get_path(cfg, ".".join(parts[: i + 1]))
        except KeyError:
            break
        if not isinstance(phases, list):
            continue  # e.g. a calibration grid nested like the config: names stay names there
        names = [p.get("name") if isinstance(p, dict) else None for p in phases]
        if parts[i + 1] not in names:
            raise ValueError(f"override {override!r}: no phase named {parts[i + 1]!r} at {'.'.join(parts[:i + 1])} "
                             f"(phases: {[n for n in names if n]}); use a name or an index")
        parts[i + 1] = str(names.index(parts[i + 1]))
    head = override[: len(override) - len(override.lstrip("~+"))]
    rest = override.split("=", 1)
    return head + ".".join(parts) + ("=" + rest[1] if len(rest) > 1 else "")


def load_sampling_setup(cfg: dict, sampler_key: str = "sampler", warn: bool = True):
    """Load the checkpoint and build the sampler with its switch calibration (from ``calibration=``, the
    checkpoint's extras, or computed from the validation split when ``auto_calibrate``).

    The sampler config composed on the command line is the user's own (any ``_target_`` builds); a
    ``sampler_file`` is data and may only name library classes or ``allowed_targets``.

    Returns ``(loaded_model, sampler, ckpt_path)``.
    """
    import yaml

    from graph_energy.config import allow_targets
    from graph_energy.samplers import Calibration, build_sampler
    from graph_energy.samplers.kinds import check_sampler_kind, model_kind, resolve_sampler_config
    from graph_energy.training.checkpoint import load_energy_model

    allowed = cfg.get("allowed_targets") or []
    if isinstance(allowed, str):
        allowed = [allowed]
    allow_targets(*allowed)
    ckpt = Path(cfg["ckpt"]).expanduser() if cfg.get("ckpt") else default_checkpoint()
    loaded = load_energy_model(ckpt, use_ema=bool(cfg.get("use_ema", True)), map_location=cfg.get("device", "cpu"))
    sampler_cfg, trusted = cfg.get(sampler_key), True
    if cfg.get("sampler_file"):
        path = Path(cfg["sampler_file"]).expanduser()
        if not path.is_file():
            raise ValueError(f"sampler_file={path} does not exist; pass a YAML written by gem-calibrate")
        sampler_cfg, trusted = yaml.safe_load(path.read_text()), False
    calibration = None
    if cfg.get("calibration"):
        path = Path(cfg["calibration"]).expanduser()
        if not path.is_file():
            raise ValueError(f"calibration={path} does not exist; pass a JSON written by gem-calibrate")
        calibration = Calibration.load(path)
    elif loaded.extras.get("calibration"):
        calibration = Calibration.from_dict(loaded.extras["calibration"])
    kind = model_kind(loaded.model)
    if kind != "energy" and trusted:  # a flow checkpoint: the composed default preset means its CTMC sampler
        sampler_cfg = resolve_sampler_config(sampler_cfg, kind)
    sampler = build_sampler(sampler_cfg, calibration, trusted=trusted)
    check_sampler_kind(sampler, kind)
    if calibration is None and sampler.needs_calibration and cfg.get("auto_calibrate"):
        calibration = auto_calibration(loaded, int(cfg.get("calibration_graphs", 1000)))
        if calibration is not None:
            sampler = build_sampler(sampler_cfg, calibration, trusted=trusted)
    if warn and sampler.needs_calibration:
        log.warning("sampler uses the energy switch but %s has no calibration; run gem-calibrate ckpt=%s "
                    "(chains now switch on arrival or at the step cap)", ckpt, ckpt)
    return loaded, sampler, ckpt


def auto_calibration(loaded, num_graphs: int):
    """Thresholds from the checkpoint's dataset (validation split), or ``None`` if it cannot be loaded."""
    from graph_energy.calibration import held_out_graphs
    from graph_energy.samplers import calibrate_thresholds

    ds = loaded.config.get("dataset")
    if not ds:
        return None
    try:
        graphs = held_out_graphs(ds, loaded.spec, "val", num_graphs)
        cal = calibrate_thresholds(loaded.model, graphs, 0.5)
    except (ValueError, FileNotFoundError, ImportError, OSError) as err:
        log.warning("could not calibrate the energy switch from the dataset (%s)", err)
        return None
    log.info("energy switch calibrated on %d validation graphs (median per size); run gem-calibrate to store it",
             sum(cal.counts.values()))
    return cal


def write_outputs(out: Path, result, summary: dict) -> None:
    """All files of a finished in-memory run at once (library callers; ``gem-sample`` streams instead)."""
    from graph_energy.cli._sample_out import batch_records

    out.mkdir(parents=True, exist_ok=True)
    (out / "samples.smi").write_text("".join(f"{s or ''}\n" for s in result.smiles))
    rows = batch_records(result)
    with open(out / "samples.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2))


def _positive_int(cfg: dict, key: str, minimum: int = 1) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key}={value!r}: pass an integer >= {minimum}")
    return value


def _workers(cfg: dict) -> int:
    from graph_energy.samplers.generate import default_workers

    if cfg.get("workers") is None:
        return default_workers(cfg.get("device") or "cpu")
    return _positive_int(cfg, "workers")


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM ends the run like Ctrl-C (finished batches are kept, exit status 130)."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(cfg: dict) -> dict:
    """Sample as configured; returns the summary dict (the printed JSON line).

    With ``out=`` the folder is checked first (writable; an earlier run there is refused unless
    ``overwrite=true`` or continued with ``resume=true``), finished batches are appended as they
    come, and the summary, picture and metrics are made from the files.
    """
    import torch

    from graph_energy.cli._sample_out import SampleOutput, sampling_key

    if cfg.get("num_threads"):
        torch.set_num_threads(_positive_int(cfg, "num_threads"))
    n, batch_size = _positive_int(cfg, "num_samples"), _positive_int(cfg, "batch_size")
    workers = _workers(cfg)
    if cfg.get("overwrite") and cfg.get("resume"):
        raise ValueError("overwrite=true and resume=true contradict each other; pass one of them")
    ckpt_path = Path(cfg["ckpt"]).expanduser() if cfg.get("ckpt") else default_checkpoint()
    if not ckpt_path.is_file():
        raise ValueError(f"ckpt={ckpt_path} does not exist; pass a checkpoint file (e.g. "
                         "runs/train/<run>/checkpoints/last.pt) or leave ckpt unset for the bundled model")
    output = None
    if cfg.get("out"):
        output = SampleOutput(Path(cfg["out"]), sampling_key(cfg, ckpt_path), n, batch_size,
                              overwrite=bool(cfg.get("overwrite")), resume=bool(cfg.get("resume")))
        output.prepare()
    try:
        return _sample_and_report(cfg, output, n, batch_size, workers)
    finally:
        if output is not None:
            output.remove_if_unused()  # an error before the first batch leaves no empty folder behind


def _sample_and_report(cfg: dict, output, n: int, batch_size: int, workers: int) -> dict:
    from graph_energy.cli._sample_out import batch_records, summarize
    from graph_energy.samplers import generate
    from graph_energy.samplers.kinds import sampling_inputs
    from graph_energy.samplers.repair import repair_for

    loaded, sampler, ckpt = load_sampling_setup(cfg)
    terms = sampling_terms(cfg, loaded)
    if not cfg.get("scaffold"):  # scaffold requests add their own validity terms and repair phase
        sampler = repair_for(sampler, terms, _repair_steps(cfg), trusted=True)
    target, noise = sampling_inputs(loaded.model, loaded.spec, loaded.stats, loaded.config)
    if terms and noise is not None:
        raise ValueError("terms need a GEM energy model; this is a discrete flow-matching checkpoint")
    done = output.batches_done if output is not None else 0
    result = None
    wall = output.sampling_s if output is not None else 0.0
    if output is None or done < output.num_batches:
        if done:
            log.info("resuming: %d of %d molecules already in %s", output.rows_done, n, output.folder)
        log.info("sampling %d molecules from %s with %r (%d worker process%s)", n - done * batch_size, ckpt,
                 sampler, workers, "" if workers == 1 else "es")
        t_batch = [time.perf_counter()]

        def on_batch(res) -> None:
            now = time.perf_counter()
            output.append(res, now - t_batch[0])
            t_batch[0] = now

        try:
            with _sigterm_as_interrupt():
                if cfg.get("scaffold"):
                    result = sample_scaffold(cfg, loaded, sampler, terms, n, batch_size, done,
                                             on_batch if output is not None else None, workers)
                else:
                    result = generate(target, loaded.spec, loaded.stats, n=n, batch_size=batch_size,
                                      num_nodes=cfg.get("num_nodes"), seed=int(cfg["seed"]), sampler=sampler,
                                      device=cfg.get("device", "cpu"), progress=bool(cfg.get("progress", True)),
                                      extra_terms=terms, noise=noise, workers=workers, start_batch=done,
                                      on_batch=on_batch if output is not None else None)
        except KeyboardInterrupt:
            if output is not None:
                log.warning("interrupted: %d of %d molecules kept in %s; rerun the same command with resume=true "
                            "to continue", output.rows_done, n, output.folder)
            raise
        wall = output.sampling_s if output is not None else result.wall_time
    rows = output.read_rows() if output is not None else batch_records(result)
    smiles = [r["smiles"] or None for r in rows]
    summary = summarize(rows, wall, list(sampler.names))
    summary.update(ckpt=str(ckpt), seed=int(cfg["seed"]), workers=workers)
    if terms:
        summary.update(terms_metadata(terms, cfg))
    out = output.folder if output is not None else None
    if out is not None:
        (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2))
        if int(cfg.get("grid") or 0) > 0:
            save_grid(out / "samples.png", smiles, [r["energy"] for r in rows], int(cfg["grid"]),
                      caption=_caption(cfg, ckpt, sampler))
    mode = str(cfg.get("metrics") or "none").lower()
    if mode != "none":
        headline = evaluate_samples(smiles, loaded.config.get("dataset"), str(cfg.get("eval_protocol", "digress")),
                                    mode, out, cfg.get("n_jobs"), progress=bool(cfg.get("progress", True)))
        if headline:
            summary["metrics"] = headline
            if out is not None:
                (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2))
    return summary


def sample_scaffold(cfg: dict, loaded, sampler, terms, n: int, batch_size: int, start_batch: int, on_batch,
                    workers: int = 1):
    """``scaffold=``: keep the substructure fixed and sample the free atoms (see
    :func:`graph_energy.samplers.generate_inpainted`)."""
    from graph_energy.models.flow import model_kind
    from graph_energy.samplers.inpaint import generate_inpainted, scaffold_part

    if model_kind(loaded.model) != "energy":
        raise ValueError("scaffold= needs a GEM energy model; this is a discrete flow-matching checkpoint")
    fixed, connect, template = scaffold_part(cfg["scaffold"], loaded.spec, cfg.get("scaffold_connect"))
    log.info("scaffold %s: %d fixed atoms%s%s", template.smiles, template.num_atoms,
             ", attachment points only" if template.has_attachment_points else "",
             f", {template.num_fragments} fragments to link" if template.num_fragments > 1 else "")
    return generate_inpainted(loaded.model, loaded.spec, fixed, loaded.stats, n=n, batch_size=batch_size,
                              num_nodes=cfg.get("num_nodes"), seed=int(cfg["seed"]), sampler=sampler,
                              extra_terms=terms, connect=connect, device=cfg.get("device", "cpu"),
                              progress=bool(cfg.get("progress", True)), on_batch=on_batch, start_batch=start_batch,
                              workers=workers, repair_steps=_repair_steps(cfg))


def _repair_steps(cfg: dict) -> int:
    """``repair=``: the cap of the repair phase (0 or null: none)."""
    if cfg.get("repair") is None:
        return 0
    try:
        return _positive_int(cfg, "repair", minimum=0)
    except ValueError:
        raise ValueError(f"repair={cfg['repair']!r} is not a number of steps; pass an integer >= 0 "
                         "(0: no repair phase)") from None


def _caption(cfg: dict, ckpt, sampler) -> str:
    name = "bundled QM9 model" if not cfg.get("ckpt") else Path(str(ckpt)).name
    preset = Path(cfg["sampler_file"]).name if cfg.get("sampler_file") else "+".join(sampler.names)
    return (f"{name}, sampler {preset}, seed {int(cfg['seed'])}. E = model energy E_theta(G) of the "
            "sample (lower = more data-like; compare equal atom counts)")


def save_grid(path: Path, smiles: list, energies: list, max_mols: int, caption: str | None = None) -> None:
    """PNG grid of the first valid samples (skipped with a warning where RDKit cannot draw)."""
    from graph_energy.chem.draw import save_grid_image

    try:
        drawn = save_grid_image(smiles, path, max_mols=max_mols, legends=[f"E={float(e):.2f}" for e in energies],
                                caption=caption)
    except (ImportError, RuntimeError, OSError) as err:
        log.warning("no molecule picture: %s", err)
        return
    if drawn:
        log.info("%d molecules drawn in %s", drawn, path)


_HEADLINE = ("validity", "uniqueness", "novelty", "vun", "fcd/test", "nspdk/test")


def evaluate_samples(smiles: list, dataset, protocol: str, mode: str, out: Path | None, n_jobs=None,
                     progress: bool = False) -> dict:
    """Evaluate under ``protocol`` against ``dataset`` (the checkpoint's); prints the table on stderr.

    ``mode``: ``full`` (every metric of the protocol) or ``basic`` (validity, uniqueness, novelty).
    Returns the headline metrics (empty when the dataset is unknown or cannot be loaded).
    """
    from dataclasses import replace

    from graph_energy.metrics import Evaluator, Protocol

    if mode not in ("full", "basic"):
        raise ValueError(f"metrics={mode!r}: use full, basic or none")
    if not dataset:
        log.warning("the checkpoint records no dataset: no metrics (evaluate with gem-evaluate samples=...)")
        return {}
    proto = Protocol.from_name(protocol)
    if mode == "basic":
        proto = replace(proto, metrics=("basic",))
    t0 = time.perf_counter()
    log.info("evaluating %d samples (%s protocol: %s)", len(smiles), proto.name, ", ".join(proto.metrics))
    try:
        evaluator = Evaluator.from_dataset(proto, dataset, n_jobs=n_jobs, progress=progress)
        report = evaluator.evaluate(["" if s is None else s for s in smiles])
    except ImportError as err:
        if mode == "basic":
            log.warning("could not evaluate the samples (%s)", err)
            return {}
        log.warning("FCD/NSPDK unavailable (%s; pip install 'graph-energy[metrics]'): basic metrics only", err)
        return evaluate_samples(smiles, dataset, protocol, "basic", out, n_jobs, progress)
    except (ValueError, FileNotFoundError, OSError) as err:
        log.warning("could not evaluate the samples against the dataset (%s); use gem-evaluate", err)
        return {}
    log.info("evaluation done in %.1f s (%s)", time.perf_counter() - t0,
             ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items()))
    table = report.to_markdown()
    print(table, file=sys.stderr)
    if out is not None:
        (out / "metrics.md").write_text(table)
        (out / "metrics.json").write_text(report.to_json() + "\n")
    return {k: report.metrics[k] for k in _HEADLINE if k in report.metrics}


def main(argv: list[str] | None = None) -> int:
    return run_cli("gem-sample", __doc__, argv, compose_config, lambda cfg: json.dumps(json_safe(run(cfg))))


if __name__ == "__main__":
    sys.exit(main())
