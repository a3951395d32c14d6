#!/usr/bin/env bash
# Continue training the bundled QM9 model and re-evaluate it: the recipe behind
# experiments/results/qm9_model.md (v3). Every stage writes under RUNS (default runs/qm9_v3) and can be
# run on its own:  bash experiments/qm9_model_continue.sh [phase1|phase2|bundle|calibrate|sample|all]
# On 2 idle CPU cores: phase1 ~56 min (16,000 x 128 graphs), phase2 ~21 min, calibrate ~10 min, sample ~7 min.
set -euo pipefail
RUNS=${RUNS:-runs/qm9_v3}
STAGE=${1:-all}
P1_STEPS=${P1_STEPS:-16000}
P2_STEPS=${P2_STEPS:-700}   # the shipped v3 is update 700 of a run started with max_steps=1500 (constant lr)
N=${N:-10000}
mkdir -p "$RUNS"

phase1() {  # transport-aligned loss, continued from the shipped weights (EMA weights, fresh optimizer)
  gem-train experiment=qm9 train.init_from=graph_energy/assets/qm9.pt train.max_steps="$P1_STEPS" \
    train.batch_size=128 optim.optimizer.lr=4e-4 train.ema_decay=0.999 train.val_every=2000 \
    train.ckpt_every=500 train.log_every=50 train.num_threads=2 train.run_dir="$RUNS/phase1"
}

phase2() {  # contrastive fine-tuning, 2 CPU processes (gloo DDP), 32 graphs + 32 negatives per rank
  OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node=2 -m graph_energy.cli.train experiment=qm9_finetune \
    train.init_from="$RUNS/phase1/checkpoints/last.pt" train.max_steps="$P2_STEPS" train.num_threads=1 \
    train.val_every=0 train.ckpt_every=100 train.keep_checkpoints=20 train.log_every=10 \
    optim.optimizer.lr=2e-5 objective.reg_alpha=0.001 \
    objective.sampler.phases.1.max_steps=100 objective.sampler.phases.1.kernel.beta_mh.end=40.0 \
    objective.sampler.phases.1.kernel.beta_mh.num_steps=50 train.run_dir="$RUNS/phase2"
}

bundle() {
  python experiments/bundle_model.py "${P2_CKPT:-$RUNS/phase2/checkpoints/last.pt}" "$RUNS/qm9.pt"
}

calibrate() {  # per-size switch thresholds + coordinate search over the kernel knobs on 512 decoded samples,
  # scored by valid-unique - 0.1 x FCD against the validation split; writes $RUNS/calib/sampler.yaml
  gem-calibrate ckpt="$RUNS/qm9.pt" out="$RUNS/calib" search.num_samples=512 search.batch_size=256 num_threads=1 \
    search.objective._target_=graph_energy.calibration.ValidUniqueFCD
}

sample() {  # N molecules, default sampler, 2 worker processes (same samples as 1), then the digress protocol
  gem-sample ckpt="$RUNS/qm9.pt" num_samples="$N" seed=0 workers=2 metrics=none grid=0 progress=false \
    out="$RUNS/s$N" overwrite=true
  # CSV keeps invalid samples as empty rows (they count as invalid), plus each sample's energy
  gem-evaluate samples="$RUNS/s$N/samples.csv" column=smiles dataset=qm9 protocol=digress \
    out="$RUNS/eval_$N.md" json_out="$RUNS/eval_$N.json"
}

case "$STAGE" in
  phase1|phase2|bundle|calibrate|sample) "$STAGE" ;;
  all) phase1; phase2; bundle; calibrate; sample ;;
  *) echo "usage: $0 [phase1|phase2|bundle|calibrate|sample|all]" >&2; exit 2 ;;
esac
