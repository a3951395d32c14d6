"""Pictures of an interpolation: a PNG strip of the molecules along a path and a PNG energy profile.

Both import their drawing libraries only when called: ``rdkit.Chem.Draw`` needs Pillow and, on some
builds, system libraries that may be missing (a failure surfaces as one ``ImportError``), and
matplotlib is used through its object API on the Agg canvas, so no global backend is changed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from graph_energy.interpolation.align import ABSENT
from graph_energy.interpolation.path import InterpolationPath

__all__ = ["save_strip", "save_profile"]


def _mol_of(state, spec):
    """The molecule of a state for drawing: sanitised if valid, else the raw graph (property cache relaxed)."""
    from rdkit import Chem

    from graph_energy.chem.convert import graph_to_mol, quiet_rdkit

    keep = np.nonzero(state.x != ABSENT)[0]
    x, e = state.x[keep], state.e[np.ix_(keep, keep)]
    mol = graph_to_mol(x, e, spec)
    if mol is not None:
        return mol
    raw = graph_to_mol(x, e, spec, sanitize=False)
    with quiet_rdkit():
        raw.UpdatePropertyCache(strict=False)
        Chem.GetSymmSSSR(raw)
    return raw


def save_strip(path: InterpolationPath, spec, out: str | os.PathLike, per_row: int = 8, size: int = 200) -> Path:
    """Draw every state of ``path`` (legend: step, energy, ``invalid`` where it does not sanitise) as a PNG.

    Raises:
        ImportError: RDKit drawing (or Pillow) is unavailable on this machine.
    """
    try:
        from rdkit.Chem import Draw
    except Exception as err:  # noqa: BLE001 - broken drawing back ends raise assorted import-time errors
        raise ImportError(f"RDKit drawing is unavailable on this machine ({type(err).__name__}: {err}); "
                          "install Pillow or an RDKit build with drawing support") from err
    mols = [_mol_of(s, spec) for s in path.states]
    legends = [f"{t}: E={s.energy:.2f}" + ("" if s.valid else " invalid") for t, s in enumerate(path.states)]
    image = Draw.MolsToGridImage(mols, molsPerRow=min(per_row, len(mols)), subImgSize=(size, size), legends=legends,
                                 returnPNG=False)
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(image, "save"):
        image.save(str(out))
    else:  # some RDKit builds return PNG bytes
        out.write_bytes(image.data if hasattr(image, "data") else bytes(image))
    return out


def save_profile(path: InterpolationPath, naive: InterpolationPath | None, out: str | os.PathLike,
                 title: str = "") -> Path:
    """Energy along the searched path (and the naive one beside it) against the step; invalid states hollow."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 3.6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for p, label, color in ((path, "minimax path", "tab:blue"), (naive, "naive path (random order)", "tab:red")):
        if p is None:
            continue
        t, e = np.arange(len(p.states)), p.energies
        valid = np.asarray([s.valid for s in p.states])
        ax.plot(t, e, "-", color=color, label=f"{label}: max {e.max():.2f}")
        ax.plot(t[valid], e[valid], "o", color=color, ms=4)
        ax.plot(t[~valid], e[~valid], "o", mfc="none", color=color, ms=5)
    ax.set_xlabel("step (single edits)")
    ax.set_ylabel("model energy")
    ax.set_title(title or "energy profile (hollow: invalid molecule)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(out))
    return out
