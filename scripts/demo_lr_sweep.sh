#!/usr/bin/env bash
# The demo's learning rate, chosen on the validation split (never on test): DPO and RPO-paired (tau 0.5) trained as
# `make demo` trains them (SmolLM2-135M-Instruct, the same 128 train pairs, 16 steps of 8, warmup 2), at each rate of
# LRS, then evaluated once on all 256 validation pairs (rpo-train --eval at the end of the run). Prints one line per
# run; the records are in OUT/<variant>/lr-<rate>.jsonl. About 30-40 minutes on 2 cores.
#   scripts/demo_lr_sweep.sh [OUT]        (default out/demo-lr; LRS="1e-5 3e-5 1e-4" to change the grid)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo-lr}
LRS=${LRS:-1e-5 3e-5 1e-4}
BIN=.build/release
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
ARGS=(OUT="$OUT" SFT=0 N_TRAIN=128 N_VAL= BATCH=8 MICRO=8 MAX_LENGTH=256 MAX_PROMPT_LENGTH=128 VARIANTS="dpo rpo-paired-0.5")
make --no-print-directory -f pipelines/hh.mk "${ARGS[@]}" \
  "$OUT/dpo/batches.zst" "$OUT/dpo/eval-batches.zst" "$OUT/rpo-paired-0.5/batches.zst" "$OUT/rpo-paired-0.5/eval-batches.zst" >&2
for v in dpo rpo-paired-0.5; do
  loss=${v%-0.5}
  for lr in $LRS; do
    f=$OUT/$v/lr-$lr.jsonl
    [ -s "$f" ] || $BIN/rpo-train --loss "$loss" --model $MODEL --lr "$lr" --beta 0.1 --warmup-steps 2 --micro-batch 8 \
      --seed 1 --eval "$OUT/$v/eval-batches.zst" --eval-every 128 --no-first-eval --no-progress \
      "$OUT/$v/batches.zst" -o "$f.tmp" && mv "$f.tmp" "$f"
    jq -r --arg v "$v" --arg lr "$lr" 'select(.mode == "eval") | "\($v) lr \($lr): validation (\(.eval_examples) pairs) loss \(."loss/eval" * 1e4 | round / 1e4), accuracy \(."rewards_eval/accuracies_elementwise" * 1e3 | round / 1e3), margin \(."rewards_eval/margins" * 1e4 | round / 1e4), chosen log-prob \(."logps_eval/chosen" * 100 | round / 100)"' "$f"
  done
done
