"""Pictures of molecules: a PNG grid of SMILES (RDKit drawing, imported only when a picture is made).

``rdkit.Chem.Draw`` needs Pillow and, on some builds, system libraries (Cairo/FreeType) that may be
missing; importing it at module level would break every user of :mod:`graph_energy.chem`, so it is
imported inside :func:`save_grid_image` and a missing piece surfaces as one ``ImportError``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["save_grid_image"]


def save_grid_image(smiles: Sequence[str | None], path: str | os.PathLike, max_mols: int = 48,
                    mols_per_row: int = 6, size: int = 220, legends: Sequence[str] | None = None) -> int:
    """Draw the first ``max_mols`` parsable SMILES of ``smiles`` as a grid and write a PNG to ``path``.

    ``None``/empty/unparsable entries are skipped. ``legends`` (one per entry of ``smiles``) label the
    cells. Returns the number of molecules drawn (0: nothing written).

    Raises:
        ImportError: RDKit's drawing module (or Pillow) is not usable on this machine.

    Example:
        >>> save_grid_image(["CCO", "c1ccccc1", None], "grid.png")  # doctest: +SKIP
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
            mols.append(mol)
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
    image = Draw.MolsToGridImage(mols, molsPerRow=min(mols_per_row, len(mols)), subImgSize=(size, size),
                                 legends=labels, returnPNG=False)
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(image, "save"):
        image.save(str(path))
    else:  # some RDKit builds return PNG bytes
        path.write_bytes(image.data if hasattr(image, "data") else bytes(image))
    return len(mols)
