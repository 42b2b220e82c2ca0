#!/usr/bin/env bash
# Meta-training on some classes of the dev sets, evaluated on classes it never saw (in-domain)
# and on the other dataset (cross-domain), paired against the frozen default backbone.
#
#   bash bench/metatrain_experiment.sh [WORK_DIR]      (about 30 min on 2 cores with an empty cache)
#
# WORK_DIR (default /tmp/raresight-metatrain) gets symlinked class splits of ../shared/data (nothing
# is copied), the backbone files, eval JSONs and gains.json. Splits:
#   rbc:   train 5 classes, validate on macrocyte + ovalocyte, test on the 5 others (5-way 1/5-shot)
#   chest: train covid-19, no-finding, pneumocystis, sars; validate on streptococcus + pneumonia;
#          test on the classes with 2+ patients left (ards, klebsiella, legionella, lipoid: 4-way
#          1-shot, since support and queries may not share a patient)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
DATA="$REPO/../shared/data"
WORK="${1:-/tmp/raresight-metatrain}"
if [ ! -d "$DATA/rbc-morphology" ] || [ ! -d "$DATA/chest-xray-findings" ]; then
  echo "metatrain_experiment: skipped, no dev datasets at $DATA" >&2
  exit 0
fi
RBC="$(cd "$DATA/rbc-morphology" && pwd)"
CHEST="$(cd "$DATA/chest-xray-findings" && pwd)"
PY="$REPO/.venv/bin/python"
RS="$REPO/.venv/bin/raresight"
mkdir -p "$WORK"
cd "$WORK"

split() { # folder source class...
  local dir=$1 src=$2
  shift 2
  mkdir -p "$dir"
  ln -sfn "$src/manifest.csv" "$dir/manifest.csv"
  ln -sfn "$src/README.txt" "$dir/README.txt"
  for c in "$@"; do ln -sfn "$src/$c" "$dir/$c"; done
}
split rbc_train "$RBC" burr-cell elliptocyte macrocyte microcyte normal-cell ovalocyte schistocyte
split rbc_test "$RBC" hypochromia spherocyte stomatocyte target-cell teardrop
split chest_train "$CHEST" covid-19 no-finding pneumocystis sars streptococcus pneumonia
split chest_test "$CHEST" ards klebsiella legionella lipoid bacterial e-coli mycoplasma varicella

RBC_G="--groups manifest.csv:source_smear"
CHEST_G="--groups manifest.csv:patientid"
"$RS" meta-train rbc_train $RBC_G --val-classes macrocyte ovalocyte --out rbc.rsbackbone
"$RS" meta-train chest_train $CHEST_G --val-classes streptococcus pneumonia --ways 4 --out chest.rsbackbone

evaluate() { # name backbone-args...
  local name=$1
  shift
  "$RS" eval rbc_test --shots 1 5 --adapt none $RBC_G "$@" --json "rbc_test.$name.json"
  "$RS" eval chest_test --shots 1 --adapt none $CHEST_G "$@" --json "chest_test.$name.json"
  "$RS" eval "$CHEST" --shots 1 5 --adapt none $CHEST_G "$@" --json "chest_all.$name.json"
  "$RS" eval "$RBC" --shots 1 5 --adapt none $RBC_G "$@" --json "rbc_all.$name.json"
}
evaluate frozen
evaluate rbc --backbone rbc.rsbackbone
evaluate chest --backbone chest.rsbackbone

# in-domain: the held-out classes of the training dataset; cross-domain: the other dataset, all classes
C="$PY $REPO/bench/compare_evals.py"
$C rbc_test.frozen.json rbc_test.rbc.json --out gains.rbc_in_domain.json --vary backbone calibration
$C chest_all.frozen.json chest_all.rbc.json --out gains.rbc_to_chest.json --vary backbone calibration
$C chest_test.frozen.json chest_test.rbc.json chest_test.chest.json --out gains.chest_test.json --vary backbone calibration
$C rbc_all.frozen.json rbc_all.chest.json --out gains.chest_to_rbc.json --vary backbone calibration
