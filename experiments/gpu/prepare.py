"""Prepare what a GPU machine without network access needs: wheels and dataset files under folders
that travel with the repository (``.whl/``, ``.gpu/``; both ignored by git).

    python experiments/gpu/prepare.py wheels         # pip download of the packages the GPU image lacks
    python experiments/gpu/prepare.py qm9            # .gpu/qm9/qm9_index_smiles.csv.gz (~2.5 MB)
    python experiments/gpu/prepare.py moses          # .gpu/moses/*.csv.gz (~13 MB) + FCD reference cache
    python experiments/gpu/prepare.py all --dry-run  # print what would be done

``wheels`` fetches cp312 manylinux wheels (the GPU image runs Python 3.12 and has torch,
torch-geometric, numpy, scipy, pandas, scikit-learn, networkx, PyYAML, tqdm, matplotlib) for the
rest, building pure-Python wheels of those published as source only (37 MB in all): RDKit, Hydra,
OmegaConf and its parser runtime, ``fcd`` (ChemNet weights inside) and the NSPDK kernel with its two
missing dependencies. ``moses`` also writes the FCD statistics of the Test and TestSF splits that
``molsets`` ships into ``.gpu/cache/fcd`` under the keys the evaluator looks up (point
``GEM_CACHE_DIR`` there on the GPU machine), so 350,000 reference molecules need not go through
ChemNet there.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / ".gpu"
WHEELS = ROOT / ".whl"

#: Packages the GPU image lacks (versions as in the development environment).
PACKAGES = ["rdkit==2026.9.1", "hydra-core==1.3.8", "omegaconf==2.3.1", "antlr4-python3-runtime==4.9.3",
            "fcd==1.2.2", "eden-kernel==0.3.1350", "dill", "future"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64", "any"]


def ignore_folder(folder: Path, dry: bool) -> None:
    """A folder that git ignores by itself (a ``.gitignore`` of ``*`` inside it)."""
    if dry:
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".gitignore").write_text("*\n")


def wheels(dry: bool) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
           "--implementation", "cp", *[a for p in PLATFORMS for a in ("--platform", p)], "-d", str(WHEELS)]
    print(" ".join(cmd + PACKAGES))
    if not dry:
        WHEELS.mkdir(exist_ok=True)
        for pkg in PACKAGES:  # one at a time: a pure-Python package has only a py3-none-any wheel
            if subprocess.run(cmd + [pkg]).returncode != 0:
                # no wheel on the index (antlr4-python3-runtime 4.9.3, eden-kernel: source only): build a
                # pure-Python wheel here, which installs on any Python 3
                subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(WHEELS), pkg], check=True)


def qm9(dry: bool) -> None:
    """The Index and SMILES columns of the qm9pack CSVs, gzipped (the split is computed from Index)."""
    import pandas as pd

    from graph_energy.data.sources.base import read_table
    from graph_energy.data.sources.qm9 import _package_files

    target = GPU / "qm9" / "qm9_index_smiles.csv.gz"
    print(f"qm9: {[f.name for f in _package_files()]} -> {target.relative_to(ROOT)}")
    if dry:
        return
    ignore_folder(GPU, dry)
    target.parent.mkdir(parents=True, exist_ok=True)
    df = pd.concat([read_table(f, ["Index", "SMILES"]) for f in _package_files()], ignore_index=True)
    with gzip.open(target, "wt") as fh:
        df.to_csv(fh, index=False)


def moses(dry: bool) -> None:
    """The three MOSES split files, and the shipped Test/TestSF FCD statistics as evaluator cache entries."""
    import os

    import numpy as np

    from graph_energy.data.sources.base import read_table
    from graph_energy.data.sources.moses import MOSES_SPLITS, _package_folder

    src, dst = _package_folder(), GPU / "moses"
    print(f"moses: {src}/{{{','.join(MOSES_SPLITS)}}}.csv.gz -> {dst.relative_to(ROOT)}; FCD cache -> "
          f"{(GPU / 'cache').relative_to(ROOT)}")
    if dry:
        return
    ignore_folder(GPU, dry)
    dst.mkdir(parents=True, exist_ok=True)
    for split in MOSES_SPLITS:
        shutil.copy2(src / f"{split}.csv.gz", dst / f"{split}.csv.gz")
    os.environ["GEM_CACHE_DIR"] = str(GPU / "cache")
    from graph_energy.metrics._util import cached_npz, smiles_key
    from graph_energy.metrics.evaluator import canonical_reference
    from graph_energy.metrics.fcd import _CACHE_VERSION
    from graph_energy.metrics.reference import precomputed_statistics

    for split in ("test", "test_scaffolds"):
        raw = read_table(dst / f"{split}.csv.gz", ["SMILES"])["SMILES"].fillna("").astype(str).tolist()
        canon = canonical_reference(raw)  # the evaluator keys FCD statistics by the canonical list
        st = precomputed_statistics(src / f"{split}_stats.npz")["fcd"]
        arrays = {"mu": st.mu, "sigma": st.sigma, "n": np.array(len(canon))}
        cached_npz("fcd", smiles_key(canon, _CACHE_VERSION), lambda arrays=arrays: arrays)
        print(f"  {split}: {len(canon)} canonical reference SMILES, FCD statistics cached")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["wheels", "qm9", "moses", "all"])
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    for step in (["wheels", "qm9", "moses"] if args.what == "all" else [args.what]):
        {"wheels": wheels, "qm9": qm9, "moses": moses}[step](args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
