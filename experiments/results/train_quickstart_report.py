"""Build train_quickstart.csv from an uninterrupted quickstart run and a run resumed from one of its
checkpoints, and print how far the resumed losses are from the uninterrupted ones.

    gem-train experiment=quickstart train.run_dir=$RUNS/qs_full
    gem-train experiment=quickstart train.run_dir=$RUNS/qs_resumed \
        train.resume=$RUNS/qs_full/checkpoints/step_00000040.pt
    python experiments/results/train_quickstart_report.py $RUNS/qs_full $RUNS/qs_resumed
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd

KEEP = ["step", "train/loss", "train/loss_x", "train/loss_e", "train/grad_norm", "train/lr", "train/graphs_per_s",
        "val/loss", "val/loss_ema"]


def main(full_dir: str, resumed_dir: str, out: str | None = None) -> None:
    full = pd.read_csv(Path(full_dir) / "metrics.csv")
    res = pd.read_csv(Path(resumed_dir) / "metrics.csv")
    final_step = int(json.loads((Path(resumed_dir) / "summary.json").read_text())["step"])
    resume_from = re.search(r"step_(\d+)\.pt", (Path(resumed_dir) / "config.yaml").read_text())
    table = full[[c for c in KEEP if c in full]].copy()
    merged = table.merge(res[["step", "train/loss"]].rename(columns={"train/loss": "resumed/train/loss"}),
                         on="step", how="left")
    both = merged.dropna(subset=["resumed/train/loss"])
    diff = (both["train/loss"] - both["resumed/train/loss"]).abs()
    out = Path(out) if out else Path(__file__).with_name("train_quickstart.csv")
    merged.to_csv(out, index=False, float_format="%.6g")
    first, last = table["train/loss"].dropna().iloc[:3].mean(), table["train/loss"].dropna().iloc[-3:].mean()
    print(json.dumps({"csv": out.name, "resumed_rows_compared": int(len(both)), "resumed_from_step": int(resume_from.group(1)) if resume_from else None,
                      "final_step": final_step, "max_abs_loss_diff": float(diff.max()) if len(diff) else None,
                      "train_loss_first3": round(float(first), 4), "train_loss_last3": round(float(last), 4)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
