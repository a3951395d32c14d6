"""Per-checkpoint calibration of the sampler's knobs (METHOD.md §3.4).

A small coordinate search over values addressed by *config path* in the sampler's config
(``phases.mixing.kernel.proposal.beta_prop``, ``phases.transport.kernel.edits_per_step``,
``phases.mixing.kernel.beta_mh`` ...), each candidate rebuilt from its config and scored by an
:class:`~graph_energy.calibration.objectives.Objective` measured on decoded samples at the base
sampler's fixed step budget (default: the valid-and-unique fraction).

A ``beta_mh`` value may be a number (constant schedule) or ``[start, end, steps]`` (linear).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from graph_energy.calibration.objectives import Objective, ValidUnique
from graph_energy.config import get_path, set_path, to_config
from graph_energy.samplers import Calibration, Sampler, build_sampler, generate, sampler_config

__all__ = ["flatten_grid", "knob_value", "get_knobs", "apply_knobs", "SearchRow", "SearchResult", "search_knobs"]

log = logging.getLogger(__name__)

_SCHEDULES = {"graph_energy.samplers.LinearSchedule", "graph_energy.samplers.schedules.LinearSchedule",
              "graph_energy.samplers.ConstantSchedule", "graph_energy.samplers.schedules.ConstantSchedule"}


def flatten_grid(grid: Mapping, prefix: str = "") -> dict[str, list]:
    """``{dotted path: candidate values}`` from a grid given flat (``{"phases.mixing.max_steps": [...]}``)
    or nested like the sampler config (``{"phases": {"mixing": {"max_steps": [...]}}}``)."""
    out: dict[str, list] = {}
    for key, value in grid.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_grid(value, path + "."))
        elif isinstance(value, (list, tuple)):
            out[path] = list(value)
        else:
            raise ValueError(f"search grid entry {path!r} must be a list of candidate values, got {value!r}")
    return out


def knob_value(value):
    """A knob value in its short form: schedule configs become a number (constant) or
    ``[start, end, steps]`` (linear); tuples become lists."""
    if isinstance(value, Mapping) and value.get("_target_") in _SCHEDULES:
        if "value" in value:
            return value["value"]
        return [value["start"], value["end"], value["num_steps"]]
    if isinstance(value, tuple):
        return [knob_value(v) for v in value]
    return value


def _key(knobs: Mapping) -> str:
    def norm(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return [norm(x) for x in v] if isinstance(v, list) else v
        return round(float(v), 9)
    return json.dumps({k: norm(knob_value(v)) for k, v in sorted(knobs.items())}, default=str)


def get_knobs(cfg: Mapping, paths: Sequence[str]) -> dict:
    """Current value (short form) of each knob path in a sampler config."""
    try:
        return {p: knob_value(copy.deepcopy(get_path(cfg, p))) for p in paths}
    except KeyError as err:
        raise ValueError(f"search grid: {err.args[0]}; knob paths address the sampler config, e.g. "
                         "phases.mixing.kernel.proposal.beta_prop or phases.transport.kernel.edits_per_step") from None


def apply_knobs(cfg: Mapping, knobs: Mapping) -> dict:
    """A copy of the sampler config ``cfg`` with the knob values set (short forms as they are: the
    kernels take them)."""
    out = copy.deepcopy(dict(cfg))
    for path, value in knobs.items():
        try:
            set_path(out, path, copy.deepcopy(value))
        except KeyError as err:
            raise ValueError(f"cannot set knob {path!r}: {err.args[0]}") from None
    return out


@dataclass
class SearchRow:
    """One evaluated candidate: its knobs (path -> value), objective score and sample summary."""

    knobs: dict
    score: float
    summary: dict


@dataclass
class SearchResult:
    """The best candidate, its sampler and config, and every evaluated row."""

    best: SearchRow
    sampler: Sampler
    config: dict
    rows: list[SearchRow] = field(default_factory=list)

    def table(self) -> str:
        """Plain-text table of every candidate, best first (knobs by their shortest distinct path suffix)."""
        paths = list(self.best.knobs)
        head = _short_names(paths) + ["score", "valid", "unique", "evals/mol", "accept"]
        lines = [" | ".join(head)]
        for r in sorted(self.rows, key=lambda r: -r.score):
            s = r.summary
            vals = [_fmt(r.knobs[p]) for p in paths] + [f"{r.score:.4f}", f"{s['validity']:.3f}",
                                                        f"{s['uniqueness']:.3f}",
                                                        f"{s['evaluations_per_molecule']:.1f}",
                                                        f"{s['acceptance_rate']:.3f}"]
            lines.append(" | ".join(vals))
        return "\n".join(lines)


def _short_names(paths: list[str]) -> list[str]:
    parts = [p.split(".") for p in paths]
    out = []
    for ks in parts:
        for n in range(1, len(ks) + 1):
            tail = ks[-n:]
            if sum(other[-n:] == tail for other in parts) == 1:
                break
        out.append(".".join(tail))
    return out


def _fmt(v) -> str:
    if isinstance(v, list):
        return "/".join(_fmt(x) for x in v)
    return str(round(v, 3) if isinstance(v, float) else v)


def search_knobs(model, spec, stats, base: Sampler | Mapping | None, grid: Mapping,
                 objective: Objective | None = None, num_samples: int = 128, batch_size: int = 128, seed: int = 0,
                 passes: int = 1, num_nodes=None, device="cpu", on_row: Callable[[SearchRow], None] | None = None,
                 calibration: Calibration | dict | None = None, trusted: bool = False) -> SearchResult:
    """Coordinate search: starting from ``base``, try each grid value of one knob at a time, keep the best.

    Every candidate samples the same node counts with the same seed (common random numbers), so
    differences come from the knobs. Ties on the score go to fewer energy evaluations per molecule.

    Args:
        base: the starting sampler (a :class:`Sampler`, its config dict or ``None`` for the default).
        grid: knob path -> candidate values, flat or nested (see :func:`flatten_grid`).
        objective: score on decoded samples (default :class:`ValidUnique`).
        passes: sweeps over all knobs.
        calibration: per-size switch thresholds every candidate samples with.
        trusted: ``base`` is a config dict from the user (see :func:`~graph_energy.samplers.build_sampler`).
    """
    objective = objective or ValidUnique()
    if isinstance(base, Sampler):
        trusted = True  # built already
    base_cfg = to_config(build_sampler(sampler_config(base), trusted=trusted))  # defaults filled in
    paths = flatten_grid(grid)
    seen: dict[str, SearchRow] = {}

    def evaluate(knobs: dict) -> SearchRow:
        k = _key(knobs)
        if k not in seen:
            sampler = build_sampler(apply_knobs(base_cfg, knobs), trusted=trusted)
            res = generate(model, spec, stats, n=num_samples, batch_size=batch_size, num_nodes=num_nodes,
                           seed=seed, sampler=sampler, device=device, calibration=calibration)
            row = SearchRow(dict(knobs), float(objective(res)), res.summary())
            seen[k] = row
            log.info("knobs %s -> %s %.4f (valid %.3f, unique %.3f, %.1f evals/mol)", knobs, objective.name,
                     row.score, row.summary["validity"], row.summary["uniqueness"],
                     row.summary["evaluations_per_molecule"])
            if on_row is not None:
                on_row(row)
        return seen[k]

    def better(a: SearchRow, b: SearchRow) -> bool:
        if a.score != b.score:
            return a.score > b.score
        return a.summary["evaluations_per_molecule"] < b.summary["evaluations_per_molecule"]

    best = evaluate(get_knobs(base_cfg, list(paths)))
    for _ in range(max(int(passes), 1)):
        for path, values in paths.items():
            for v in values:
                row = evaluate({**best.knobs, path: knob_value(v)})
                if better(row, best):
                    best = row
    sampler = build_sampler(apply_knobs(base_cfg, best.knobs), trusted=trusted)
    return SearchResult(best, sampler, to_config(sampler), list(seen.values()))
