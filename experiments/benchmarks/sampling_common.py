"""Shared pieces of the sampler studies (switch ablation, sampling budget, switch diagnosis): sampler
variants from the presets, step budgets matched to a target number of energy evaluations per
molecule, and validity / uniqueness / novelty / FCD (with a bootstrap interval) against QM9 test.

Evaluations are energy+gradient evaluations per molecule as the driver counts them (the initial
one included; a transport step without an edit and an MH no-op proposal cost none).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

import graph_energy

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "results"
PRESETS = Path(graph_energy.__file__).parent / "conf" / "sampler"

log = logging.getLogger("sampling_common")


def preset(name: str) -> dict:
    """A sampler preset (``conf/sampler/<name>.yaml``) as a plain config dict."""
    return yaml.safe_load((PRESETS / f"{name}.yaml").read_text())


def phase_cfg(cfg: dict, name: str) -> dict:
    for p in cfg["phases"]:
        if p["name"] == name:
            return p
    raise KeyError(f"no phase {name!r} in {[p['name'] for p in cfg['phases']]}")


@dataclass
class Variant:
    """One sampler configuration of a study.

    Attributes:
        name: row label.
        sampler: phases-form sampler config.
        calibration: switch thresholds for this variant (``None``: the switch has none).
        budget_phase: phase whose ``max_steps`` is adjusted to hit an evaluation budget (``None``: fixed).
        anneal_fraction: when set, the budget phase's ``beta_mh`` schedule anneals over this fraction
            of its steps (so a short or long mixing phase still ends cold).
        note: free text for the table.
    """

    name: str
    sampler: dict
    calibration: object = None
    budget_phase: str | None = "mixing"
    anneal_fraction: float | None = None
    note: str = ""

    def steps(self) -> int | None:
        return None if self.budget_phase is None else int(phase_cfg(self.sampler, self.budget_phase)["max_steps"])

    def with_steps(self, steps: int) -> dict:
        """The sampler config with the budget phase capped at ``steps``."""
        cfg = copy.deepcopy(self.sampler)
        if self.budget_phase is None:
            return cfg
        ph = phase_cfg(cfg, self.budget_phase)
        ph["max_steps"] = int(steps)
        if self.anneal_fraction is not None:
            sched = ph["kernel"].get("beta_mh")
            if isinstance(sched, dict) and "num_steps" in sched:
                sched["num_steps"] = max(1, int(round(self.anneal_fraction * steps)))
        return cfg


def run(model, cfg: dict, calibration, n: int, seed: int, batch_size: int):
    """Sample ``n`` molecules with a sampler config (one torch thread); returns the ``SampleResult``."""
    from graph_energy.samplers import build_sampler, generate

    sampler = build_sampler(cfg, calibration, trusted=True)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return generate(model.model, model.spec, model.stats, n=n, batch_size=batch_size, seed=seed,
                        sampler=sampler)
    finally:
        torch.set_num_threads(before)


def evals_per_molecule(result) -> float:
    return float(result.evaluations.double().mean())


@dataclass
class BudgetMatch:
    """The outcome of :func:`match_budget`: the final run, its step cap and the search history."""

    result: object
    steps: int | None
    target: float | None
    achieved: float
    history: list = field(default_factory=list)

    @property
    def deviation(self) -> float | None:
        return None if not self.target else self.achieved / self.target - 1.0


def _next_steps(history: list[tuple[int, float]], target: float, floor: float) -> int:
    """Secant step on (steps, evaluations) points; the first step assumes evaluations grow linearly
    from ``floor`` (the cost of the phases before the budget phase)."""
    if len(history) == 1 or history[-1][0] == history[-2][0]:
        s, e = history[-1]
        slope = max((e - floor) / max(s, 1), 1e-3)
    else:
        (s0, e0), (s1, e1) = history[-2], history[-1]
        slope = (e1 - e0) / (s1 - s0)
        if not slope > 0:
            slope = max((e1 - floor) / max(s1, 1), 1e-3)
    s, e = history[-1]
    return max(0, int(round(s + (target - e) / slope)))


def match_budget(model, variant: Variant, target: float | None, n: int, seed: int, batch_size: int,
                 n_pilot: int = 128, tol: float = 0.05, max_pilots: int = 5, max_full: int = 3) -> BudgetMatch:
    """Run ``variant`` with its budget phase's step cap chosen so that the mean evaluations per molecule
    are within ``tol`` of ``target`` (``None``: run as configured).

    The cap is searched on ``n_pilot`` chains (same seed every time) to ``tol / 2``, then the full run
    is checked and, if it misses ``tol``, corrected with one more secant step (at most ``max_full`` runs).
    """
    if target is None or variant.budget_phase is None:
        res = run(model, variant.sampler, variant.calibration, n, seed, batch_size)
        return BudgetMatch(res, variant.steps(), target, evals_per_molecule(res))
    floor, history = 1.0, []
    steps = variant.steps()
    for _ in range(max_pilots):
        pilot = run(model, variant.with_steps(steps), variant.calibration, min(n_pilot, n), seed, batch_size)
        e = evals_per_molecule(pilot)
        if not history:
            other = {k: float(v.double().mean()) for k, v in pilot.phase_steps.items() if k != variant.budget_phase}
            floor = 1.0 + sum(other.values())
        history.append((steps, e, "pilot"))
        log.info("%s: pilot %d steps -> %.1f evaluations/molecule (target %.1f)", variant.name, steps, e, target)
        if abs(e / target - 1) <= tol / 2:
            break
        steps = _next_steps([(s, v) for s, v, _ in history], target, floor)
    full_points: list[tuple[int, float]] = []
    for _ in range(max_full):
        res = run(model, variant.with_steps(steps), variant.calibration, n, seed, batch_size)
        e = evals_per_molecule(res)
        history.append((steps, e, "full"))
        full_points.append((steps, e))
        log.info("%s: full %d steps -> %.1f evaluations/molecule", variant.name, steps, e)
        if abs(e / target - 1) <= tol:
            break
        pts = full_points if len(full_points) > 1 else [(s, v) for s, v, _ in history]
        steps = _next_steps(pts, target, floor)
    return BudgetMatch(res, steps, target, e, [list(h) for h in history])


# ---------------------------------------------------------------------------------------------- metrics
class QM9Reference:
    """Canonical QM9 test/train SMILES and the ChemNet statistics of the test split (cached)."""

    def __init__(self) -> None:
        from graph_energy.metrics import fcd as fcd_mod
        from graph_energy.metrics.evaluator import canonical_reference
        from graph_energy.metrics.reference import dataset_split_smiles

        self.test = canonical_reference(dataset_split_smiles("qm9", "test"), n_jobs=1)
        self.train = set(canonical_reference(dataset_split_smiles("qm9", "train"), n_jobs=1))
        self.test_stats = fcd_mod.reference_stats(self.test)

    def fcd_with_ci(self, smiles: list[str], n_boot: int, seed: int = 0) -> dict:
        """FCD of valid canonical SMILES vs the test split with a normal-approximation bootstrap 95 %
        interval, ``FCD ± 1.96·SD`` of the FCD over ``n_boot`` resamples (molecules drawn with
        replacement; ChemNet activations computed once).

        The percentile interval would be wrong here: a resample repeats molecules, which lowers its
        effective size, and FCD is biased upward at small sizes, so resampled FCDs sit above the
        estimate (their mean is kept as ``fcd_boot_mean``); their spread still measures the
        sampling noise.
        """
        from graph_energy.metrics import fcd as fcd_mod

        if len(smiles) < 2:
            return {"fcd": None, "fcd_ci95": None, "fcd_n": len(smiles)}
        acts = fcd_mod.chemnet_activations(smiles)
        value = float(fcd_mod.frechet_distance(fcd_mod.gaussian_stats(acts), self.test_stats))
        rng = np.random.default_rng(seed)
        boots = np.array([fcd_mod.frechet_distance(
            fcd_mod.gaussian_stats(acts[rng.integers(0, len(acts), len(acts))]), self.test_stats)
            for _ in range(n_boot)])
        if boots.size < 2:
            return {"fcd": value, "fcd_ci95": None, "fcd_n": len(smiles)}
        sd = float(boots.std(ddof=1))
        return {"fcd": value, "fcd_ci95": [max(0.0, value - 1.96 * sd), value + 1.96 * sd], "fcd_boot_sd": sd,
                "fcd_boot_mean": float(boots.mean()), "fcd_n": len(smiles), "fcd_ci_method": "normal bootstrap"}

    def data_floor(self, n: int, n_boot: int, seed: int = 0) -> dict:
        """FCD of ``n`` QM9 *test* molecules drawn at random against the whole test split: what a
        perfect sampler would score at this sample size (FCD is biased upward at small ``n``)."""
        rng = np.random.default_rng(seed)
        pick = [self.test[i] for i in rng.choice(len(self.test), size=min(n, len(self.test)), replace=False)]
        return self.fcd_with_ci(pick, n_boot, seed)

    def evaluate(self, smiles: list, n_boot: int, seed: int = 0) -> dict:
        """DiGress-protocol basics (largest-fragment validity, uniqueness among valid, novelty vs train)
        and FCD vs test with its bootstrap interval."""
        from graph_energy.metrics.validity import novelty, uniqueness, valid_canonical, validity

        canon = valid_canonical(["" if s is None else s for s in smiles], "largest_fragment", n_jobs=1)
        connected = valid_canonical(["" if s is None else s for s in smiles], "connected", n_jobs=1)
        valid = [c for c in canon if c is not None]
        out = {"num_samples": len(smiles), "validity": validity(canon), "validity_connected": validity(connected),
               "uniqueness": uniqueness(canon), "novelty": novelty(canon, self.train)}
        out.update(self.fcd_with_ci(valid, n_boot, seed))
        return out


def run_summary(result) -> dict:
    """Sampler bookkeeping of a run: evaluations, steps per phase, switch reasons, wall time."""
    s = result.summary()
    keys = ("evaluations_per_molecule", "molecules_per_s", "acceptance_rate", "noop_rate", "switch_reasons")
    out = {k: s[k] for k in keys if k in s}
    out["mean_steps"] = {k: float(v.double().mean()) for k, v in result.phase_steps.items()}
    out["wall_time_s"] = float(result.wall_time)
    return out


def environment() -> dict:
    import os

    return {"machine": platform.machine(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": 1, "cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
            "date": time.strftime("%Y-%m-%d")}


def write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, (np.floating, np.integer)):
            return clean(x.item())
        return x

    path.write_text(json.dumps(clean(obj), indent=2) + "\n")


def fmt_ci(row: dict) -> str:
    if row.get("fcd") is None:
        return "—"
    ci = row.get("fcd_ci95")
    return f"{row['fcd']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{row['fcd']:.2f}"
