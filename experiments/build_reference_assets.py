"""Build the reference statistics shipped in ``graph_energy/assets/reference/``.

    python experiments/build_reference_assets.py                      # qm9, digress (the bundled model's)
    python experiments/build_reference_assets.py --dataset qm9 --protocol digress --out graph_energy/assets/reference

Runs one evaluation of a few test molecules under the protocol with an empty cache folder, so that
every reference statistic the evaluation needs is computed (canonical train/test SMILES, ChemNet
mean/covariance, NSPDK mean embedding, property and type distributions), then copies those cache
entries into the package under their cache keys (sha256 of the exact reference SMILES and the
featurisation version). The evaluator looks there before computing, so a first run of
``gem-sample`` with the bundled model needs no minutes-long reference build; any other reference set
(another dataset, split or file) has another key and is computed and cached as before.

Arrays are stored compactly (:func:`graph_energy.metrics._util.pack_arrays`: float32, covariance as
its upper triangle); the FCD of a 1,000-sample set changes by ~1e-7.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="qm9")
    ap.add_argument("--protocol", default="digress")
    ap.add_argument("--out", default=str(ROOT / "graph_energy" / "assets" / "reference"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GEM_CACHE_DIR"] = tmp
        from graph_energy.metrics import Evaluator, Protocol
        from graph_energy.metrics._util import pack_arrays

        ev = Evaluator.from_dataset(Protocol.from_name(args.protocol), {"name": args.dataset}, progress=True)
        report = ev.evaluate(ev.references[0].smiles[:200])
        out = Path(args.out)
        written = []
        for path in sorted(Path(tmp).rglob("*")):
            if not path.is_file():
                continue
            target = out / path.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    np.savez_compressed(target, **pack_arrays({k: data[k] for k in data.files}))
            else:
                shutil.copyfile(path, target)
            written.append({"file": str(target.relative_to(out)), "bytes": target.stat().st_size})
    total = sum(w["bytes"] for w in written)
    print(json.dumps({"dataset": args.dataset, "protocol": args.protocol, "files": written, "total_bytes": total,
                      "check_metrics": {k: report.metrics[k] for k in ("fcd/test", "nspdk/test") if k in report.metrics}},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
