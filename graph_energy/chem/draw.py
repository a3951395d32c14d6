"""Pictures of molecules: a PNG grid of SMILES (RDKit drawing, imported only when a picture is made).

``rdkit.Chem.Draw`` needs Pillow and, on some builds, system libraries (Cairo/FreeType) that may be
missing; importing it at module level would break every user of :mod:`graph_energy.chem`, so it is
imported inside :func:`save_grid_image` and a missing piece surfaces as one ``ImportError``.

Each molecule gets the 2D layout (CoordGen, RDKit's default, or a projection of a 3D conformer) in
which atoms keep farthest from other atoms and bonds (:func:`depict`): the small fused and bridged
rings of QM9-like molecules (bicyclobutanes, cages) then come out without atom labels drawn over each
other. Legends sit in a band below each cell, and an optional caption under the grid says what the
picture shows.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

__all__ = ["save_grid_image", "depict"]


def depict(mol):
    """A copy of ``mol`` with 2D coordinates chosen so that atoms and bonds keep clear of each other.

    Tries CoordGen (when this RDKit has it) and RDKit's default layout; for a layout where an atom
    comes closer than half a bond length to another atom or to a bond it is not part of (cages and
    bridged rings), also the projections of an embedded 3D conformer onto its principal planes. The
    layout with the largest clearance wins (ties: the first). Deterministic.
    """
    from rdkit import Chem

    mol = Chem.Mol(mol)
    best, best_score = None, -1.0
    for layout in (_coordgen, _rdkit_default, _projections):
        for coords in layout(mol):
            score = _clearance(mol, coords)
            if score > best_score + 1e-9:
                best, best_score = coords, score
        if best_score >= 0.5:
            break
    conf = Chem.Conformer(mol.GetNumAtoms())
    for i, (x, y) in enumerate(best):
        conf.SetAtomPosition(i, (float(x), float(y), 0.0))
    conf.Set3D(False)
    mol.RemoveAllConformers()
    mol.AddConformer(conf, assignId=True)
    return mol


def _xy(mol):
    import numpy as np

    pos = mol.GetConformer().GetPositions()
    return np.asarray(pos[:, :2], dtype=float)


def _rdkit_default(mol):
    from rdkit import Chem
    from rdkit.Chem import rdDepictor

    m = Chem.Mol(mol)
    rdDepictor.Compute2DCoords(m)
    return [_xy(m)]


def _coordgen(mol):
    try:
        from rdkit import Chem
        from rdkit.Chem import rdCoordGen

        m = Chem.Mol(mol)
        rdCoordGen.AddCoords(m)
        return [_xy(m)]
    except Exception:  # noqa: BLE001 - builds without CoordGen, or a layout it cannot make
        return []


def _projections(mol, directions: int = 48):
    """The four clearest projections of an embedded 3D conformer among ``directions`` viewing directions
    (a Fibonacci half-sphere), scaled to RDKit's 2D bond length of 1.5 and tidied by :func:`_relax`."""
    import numpy as np
    from rdkit import Chem
    from rdkit.Chem import AllChem

    m = Chem.Mol(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = 0xF00D
    try:
        if AllChem.EmbedMolecule(m, params) != 0:
            params.useRandomCoords = True  # strained cages often need random starting coordinates
            if AllChem.EmbedMolecule(m, params) != 0:
                return []
    except Exception:  # noqa: BLE001
        return []
    pos = m.GetConformer().GetPositions()
    pos = pos - pos.mean(axis=0)
    lengths = [np.linalg.norm(pos[b.GetBeginAtomIdx()] - pos[b.GetEndAtomIdx()]) for b in m.GetBonds()]
    pos = pos * (1.5 / float(np.median(lengths)) if lengths else 1.0)
    out = []
    golden = np.pi * (3.0 - np.sqrt(5.0))
    for k in range(directions):  # half sphere: opposite directions give mirror images
        z = 1.0 - (k + 0.5) / directions
        r = np.sqrt(1.0 - z * z)
        view = np.array([r * np.cos(golden * k), r * np.sin(golden * k), z])
        u = np.cross(view, [0.0, 0.0, 1.0] if abs(view[2]) < 0.9 else [1.0, 0.0, 0.0])
        u /= np.linalg.norm(u)
        out.append(np.stack([pos @ u, pos @ np.cross(view, u)], axis=1))
    out.sort(key=lambda xy: -_clearance(mol, xy))
    return [_relax(mol, xy) for xy in out[:4]]  # the clearest views, tidied


def _relax(mol, xy, length: float = 1.5, iters: int = 150):
    """A projected layout tidied in 2D: bonds pulled to ``length``, atoms two bonds apart towards a
    120-degree spacing, closer non-bonded atoms pushed apart (gradient steps on the squared errors)."""
    import numpy as np
    from rdkit import Chem

    xy = np.array(xy, dtype=float)
    n = len(xy)
    if n < 3:
        return xy
    hops = Chem.GetDistanceMatrix(mol)
    target = np.where(hops == 1, length, np.where(hops == 2, length * np.sqrt(3.0), 0.0))
    weight = np.where(hops == 1, 1.0, np.where(hops == 2, 0.3, 0.0))
    repel = (hops > 2).astype(float)
    np.fill_diagonal(weight, 0.0)
    np.fill_diagonal(repel, 0.0)
    for _ in range(iters):
        diff = xy[:, None, :] - xy[None, :, :]
        dist = np.linalg.norm(diff, axis=-1) + np.eye(n)
        err = weight * (dist - target) + repel * np.minimum(dist - 1.6 * length, 0.0)
        xy -= 0.1 * ((err / dist)[..., None] * diff).sum(axis=1)
    return xy


def _clearance(mol, xy) -> float:
    """Smallest atom-atom or atom-bond distance (bonds the atom is not part of), in bond lengths."""
    import numpy as np

    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    if n < 2:
        return float("inf")
    bonds = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()], dtype=int).reshape(-1, 2)
    d = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
    best = float(d[np.triu_indices(n, 1)].min())
    if len(bonds):
        unit = float(np.median(d[bonds[:, 0], bonds[:, 1]])) or 1.0
        a, seg = xy[bonds[:, 0]], xy[bonds[:, 1]] - xy[bonds[:, 0]]  # (m, 2)
        rel = xy[:, None, :] - a[None]  # (n, m, 2)
        t = np.clip((rel * seg[None]).sum(-1) / np.maximum((seg * seg).sum(-1), 1e-12)[None], 0.0, 1.0)
        gap = np.linalg.norm(rel - t[..., None] * seg[None], axis=-1)  # (n, m)
        own = (np.arange(n)[:, None] == bonds[None, :, 0]) | (np.arange(n)[:, None] == bonds[None, :, 1])
        if (~own).any():
            best = min(best, float(gap[~own].min()))
    else:
        unit = 1.0
    return best / unit


def _draw_grid(mols: list, labels: list[str], per_row: int, size: int):
    """PIL image of the grid, or ``None`` when the Cairo drawer is unavailable."""
    from rdkit.Chem.Draw import rdMolDraw2D

    rows = -(-len(mols) // per_row)
    try:
        drawer = rdMolDraw2D.MolDraw2DCairo(per_row * size, rows * size, size, size)
    except (AttributeError, RuntimeError):
        return None
    opts = drawer.drawOptions()
    opts.legendFraction = 0.16  # a band of its own below the molecule: labels never overlap the drawing
    opts.legendFontSize = max(12, size // 14)
    opts.minFontSize = 9
    opts.padding = 0.08
    opts.additionalAtomLabelPadding = 0.1
    drawer.DrawMolecules(mols, legends=labels)
    drawer.FinishDrawing()
    from io import BytesIO

    from PIL import Image

    return Image.open(BytesIO(drawer.GetDrawingText())).convert("RGB")


def _add_caption(image, caption: str, size: int):
    """``image`` with ``caption`` written in a white band below it (wrapped to the image width)."""
    from PIL import Image, ImageDraw, ImageFont

    font_size = max(13, size // 13)
    try:
        font = ImageFont.load_default(size=font_size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        font = ImageFont.load_default()
    width = image.width
    chars = max(20, int(width / (0.55 * font_size)))
    lines = textwrap.wrap(caption, chars)
    line_h = int(font_size * 1.35)
    band = Image.new("RGB", (width, line_h * len(lines) + font_size), "white")
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        draw.text((font_size // 2, font_size // 2 + i * line_h), line, fill=(40, 40, 40), font=font)
    out = Image.new("RGB", (width, image.height + band.height), "white")
    out.paste(image, (0, 0))
    out.paste(band, (0, image.height))
    return out


def save_grid_image(smiles: Sequence[str | None], path: str | os.PathLike, max_mols: int = 48,
                    mols_per_row: int = 6, size: int = 220, legends: Sequence[str] | None = None,
                    caption: str | None = None) -> int:
    """Draw the first ``max_mols`` parsable SMILES of ``smiles`` as a grid and write a PNG to ``path``.

    ``None``/empty/unparsable entries are skipped. ``legends`` (one per entry of ``smiles``) label the
    cells; ``caption`` (e.g. what the legend numbers are, the sampler and the seed) is written below
    the grid. Returns the number of molecules drawn (0: nothing written).

    Raises:
        ImportError: RDKit's drawing module (or Pillow) is not usable on this machine.

    Example:
        >>> save_grid_image(["CCO", "c1ccccc1", None], "grid.png", caption="two molecules")  # doctest: +SKIP
        2
    """
    from rdkit import Chem

    from graph_energy.chem.convert import quiet_rdkit

    if max_mols < 1 or mols_per_row < 1 or size < 16:
        raise ValueError(f"need max_mols >= 1, mols_per_row >= 1, size >= 16; got {max_mols}, {mols_per_row}, {size}")
    mols, labels = [], []
    with quiet_rdkit():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s) if s else None
            if mol is None:
                continue
            mols.append(depict(mol))
            labels.append(str(legends[i]) if legends is not None else "")
            if len(mols) >= max_mols:
                break
    if not mols:
        return 0
    try:
        from rdkit.Chem import Draw
    except Exception as err:  # noqa: BLE001 - broken drawing back ends raise assorted import-time errors
        raise ImportError(f"RDKit drawing is unavailable on this machine ({type(err).__name__}: {err}); "
                          "install Pillow or an RDKit build with drawing support") from err
    per_row = min(mols_per_row, len(mols))
    image = _draw_grid(mols, labels, per_row, size)
    if image is None:  # no Cairo: RDKit's generic grid (PIL image or PNG bytes)
        image = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(size, size), legends=labels,
                                     returnPNG=False)
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    if caption and hasattr(image, "paste"):
        image = _add_caption(image, caption, size)
    if hasattr(image, "save"):
        image.save(str(path))
    else:  # some RDKit builds return PNG bytes
        path.write_bytes(image.data if hasattr(image, "data") else bytes(image))
    return len(mols)
