"""The whole interpolation task for two SMILES: represent, align, search, compare with the naive order, save."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graph_energy.chem.represent import Representation, represent
from graph_energy.interpolation.align import Alignment, align
from graph_energy.interpolation.path import InterpolationPath, minimax_path, naive_path

__all__ = ["Interpolation", "interpolate"]

log = logging.getLogger(__name__)


@dataclass
class Interpolation:
    """Result of :func:`interpolate`.

    Attributes:
        a, b: the two end molecules as represented under the model's spec.
        alignment: their node alignment; path: the minimax path; naive: the same edits in a random order.
    """

    a: Representation
    b: Representation
    alignment: Alignment
    path: InterpolationPath
    naive: InterpolationPath

    def summary(self) -> dict:
        """Headline numbers (the JSON line of ``gem-interpolate``)."""
        return {"a": self.a.smiles, "b": self.b.smiles, "steps": len(self.path),
                "edit_distance": self.alignment.edit_distance, "max_energy": self.path.max_energy,
                "barrier": self.path.barrier, "naive_max_energy": self.naive.max_energy,
                "naive_barrier": self.naive.barrier, "valid_fraction": self.path.valid_fraction,
                "naive_valid_fraction": self.naive.valid_fraction, "evaluations": self.path.evaluations}

    def to_dict(self, spec) -> dict:
        return {**self.summary(), "path": self.path.records(spec), "naive": self.naive.records(spec),
                "search": self.path.info, "slot_of_b": self.alignment.slot_of_b.tolist()}

    def save(self, out: str | os.PathLike, spec, images: bool = True) -> dict[str, str]:
        """Write ``path.json``, ``path.smi`` (one SMILES per step, empty where invalid) and, if ``images``,
        ``strip.png`` (molecules) and ``energy.png`` (profile with the naive path); a picture whose
        library is unavailable is skipped with a warning. Returns ``{kind: file}`` of what was written."""
        from graph_energy.interpolation.figures import save_profile, save_strip

        out = Path(out).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        (out / "path.json").write_text(json.dumps(_finite(self.to_dict(spec)), indent=1))
        written["json"] = str(out / "path.json")
        (out / "path.smi").write_text("".join(f"{s or ''}\n" for s in self.path.smiles))
        written["smi"] = str(out / "path.smi")
        if images:
            for kind, fn in (("strip", lambda p: save_strip(self.path, spec, p)),
                             ("profile", lambda p: save_profile(self.path, self.naive, p,
                                                                f"{self.a.smiles} -> {self.b.smiles}"))):
                name = out / ("strip.png" if kind == "strip" else "energy.png")
                try:
                    fn(name)
                    written[kind] = str(name)
                except ImportError as err:
                    log.warning("skipping %s: %s", name.name, err)
        return written


def _finite(obj):
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _end(smiles: str, spec, which: str) -> Representation:
    rep = represent(smiles, spec)
    if not rep.ok:
        raise ValueError(f"cannot interpolate from {which}={smiles!r}: {rep.reason}")
    return rep


def interpolate(model, spec, a: str, b: str, beam_width: int = 8, invalid_penalty: float = 0.0, seed: int = 0,
                device="cpu") -> Interpolation:
    """Low-energy path of single edits from molecule ``a`` to ``b`` (SMILES), and the naive path for comparison.

    Args:
        model: energy model in eval mode; spec: its vocabulary.
        beam_width: states kept per depth of the minimax search (larger: lower barriers, more evaluations).
        invalid_penalty: added to the search cost of states that are not valid molecules (0: pure energy).
        seed: seed of the naive path's random order.
    """
    ra, rb = _end(a, spec, "a"), _end(b, spec, "b")
    al = align(ra.graph, rb.graph)
    path = minimax_path(model, spec, al, beam_width, invalid_penalty, device=device)
    naive = naive_path(model, spec, al, np.random.default_rng(int(seed)), device=device)
    return Interpolation(ra, rb, al, path, naive)
