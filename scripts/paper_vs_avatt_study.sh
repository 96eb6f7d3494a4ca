#!/usr/bin/env bash
# The controlled experiments of docs/reproducing_the_paper.md, "Does the
# paper's model trail A+V-att?": one change to the faithful `paper` at a time,
# seeds 0-2, 15 epochs, the embedded default, every epoch selected on val and
# the test split reported. Each condition writes results/study/<name>.md/.json
# (run folders under runs/study/<name>). Usage: bash scripts/paper_vs_avatt_study.sh [NAME ...]
set -euo pipefail
cd "$(dirname "$0")/.."
KERAS_AVL="${KERAS_AVL:-keras-avl}"
COMMON=(--seeds 0,1,2 --split test --epochs 15 --verbose 0)
declare -A CONDITIONS=(
  [weak-max-logits]="--regimes weak --models paper --set weak_pooling=max-logits"
  [weak-swab-rescale]="--regimes weak --models paper --set swab_rescale=true"
  [weak-mf-rms]="--regimes weak --models paper --set mf_normalization=rms"
  [weak-head64]="--regimes weak --models paper --set head_units=[64]"
  [weak-bidirectional]="--regimes weak --models paper --set bidirectional=true"
  [weak-dropout0]="--regimes weak --models paper --set dropout=0"
  [weak-paper-plus]="--regimes weak --models paper-plus"
  [supervised-paper-plus]="--regimes supervised --models paper-plus"
  [table3]="--regimes supervised --models avfb,avfb+swab"
  [table3-swab-rescale]="--regimes supervised --models avfb+swab --set swab_rescale=true"
  [supervised-swab-rescale]="--regimes supervised --models paper --set swab_rescale=true"
  [supervised-mf-rms]="--regimes supervised --models paper --set mf_normalization=rms"
  [supervised-head64]="--regimes supervised --models paper --set head_units=[64]"
  [supervised-bidirectional]="--regimes supervised --models paper --set bidirectional=true"
)
ORDER=(weak-max-logits weak-swab-rescale weak-mf-rms weak-head64 weak-bidirectional weak-dropout0 weak-paper-plus supervised-paper-plus table3 table3-swab-rescale
       supervised-bidirectional supervised-mf-rms supervised-head64 supervised-swab-rescale)
mkdir -p results/study
for name in "${@:-${ORDER[@]}}"; do
  # shellcheck disable=SC2086
  "$KERAS_AVL" compare ${CONDITIONS[$name]} "${COMMON[@]}" --runs-dir "runs/study/$name" \
    --resume --title "$name" --output "results/study/$name.md"
done
