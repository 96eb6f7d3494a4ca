#!/usr/bin/env bash
# The one-change study that defines the `paper-plus` preset
# (docs/reproducing_the_paper.md, "Does the paper's model trail A+V-att?"):
# one change to the faithful `paper` at a time, seeds 0-2, 15 epochs, the
# embedded default, every epoch selected on val and every condition scored on
# **val** (never test: the preset is chosen from these tables). Each condition
# writes results/study/<name>.md/.json (run folders under runs/study/<name>).
# Usage: bash scripts/paper_plus_study.sh [NAME ...]
set -euo pipefail
cd "$(dirname "$0")/.."
KERAS_AVL="${KERAS_AVL:-keras-avl}"
COMMON=(--seeds 0,1,2 --split val --epochs 15 --verbose 0)
declare -A CONDITIONS=(
  [weak-paper]="--regimes weak --models paper"
  [weak-max-logits]="--regimes weak --models paper --set weak_pooling=max-logits"
  [weak-swab-rescale]="--regimes weak --models paper --set swab_rescale=true"
  [weak-mf-rms]="--regimes weak --models paper --set mf_normalization=rms"
  [weak-head64]="--regimes weak --models paper --set head_units=[64]"
  [weak-bidirectional]="--regimes weak --models paper --set bidirectional=true"
  [weak-dropout0]="--regimes weak --models paper --set dropout=0"
  [supervised-paper]="--regimes supervised --models paper"
  [supervised-swab-rescale]="--regimes supervised --models paper --set swab_rescale=true"
  [supervised-mf-rms]="--regimes supervised --models paper --set mf_normalization=rms"
  [supervised-head64]="--regimes supervised --models paper --set head_units=[64]"
  [supervised-bidirectional]="--regimes supervised --models paper --set bidirectional=true"
  [supervised-dropout0]="--regimes supervised --models paper --set dropout=0"
  # The preset the rule chose (docs/reproducing_the_paper.md), checked on val.
  [supervised-paper-plus]="--regimes supervised --models paper-plus"
  [weak-paper-plus]="--regimes weak --models paper-plus"
)
ORDER=(supervised-paper supervised-bidirectional supervised-mf-rms supervised-head64
       weak-paper weak-bidirectional weak-mf-rms weak-head64 supervised-paper-plus
       weak-paper-plus weak-dropout0 supervised-dropout0 weak-swab-rescale
       supervised-swab-rescale weak-max-logits)
mkdir -p results/study
for name in "${@:-${ORDER[@]}}"; do
  # shellcheck disable=SC2086
  "$KERAS_AVL" compare ${CONDITIONS[$name]} "${COMMON[@]}" --runs-dir "runs/study/$name" \
    --resume --title "$name (val split)" --output "results/study/$name.md"
done
