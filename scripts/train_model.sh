#!/usr/bin/env bash
# Trains the shipped model from scratch: the ensemble's members one after another (each a full
# `pneumo train` run with its own seed, all on the same validation patients), then joins them
# with `pneumo ensemble`, which calibrates on the stress validation and fits the OOD statistics.
#
#   scripts/train_model.sh [DATA] [OUT] [SEED:EPOCHS...]
#   scripts/train_model.sh ../shared/data/chest_xray models/trained 42:28 7:18   # the shipped 2.0.0
#
# About 80 s an epoch on 2 CPU cores with nothing else running (much more when something else
# runs: the two OpenMP threads wait for each other at every layer).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/chest_xray}
out=${2:-models/trained}
shift $(( $# > 2 ? 2 : $# )) || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(42:28 7:18)
# Two OpenMP threads that spin while the other is descheduled stall every layer; passive waiting
# keeps a training run from collapsing when anything else wakes up on the machine.
export OMP_WAIT_POLICY=PASSIVE
members=()
for member in "${seeds[@]}"; do
  seed=${member%%:*}
  epochs=${member#*:}
  dir="$out-members/seed-$seed"
  build/pneumo train --data "$data" --out "$dir" --input-size 192 --cache-side 224 --epochs "$epochs" --patience 8 \
    --seed "$seed" --split-seed 42 --threads 2 --no-progress --name pneumo-pneumonet --version "2.0.0-seed$seed"
  members+=(--member "$dir")
done
build/pneumo ensemble "${members[@]}" --out "$out" --data "$data" --name pneumo-pneumonet --version 2.0.0
