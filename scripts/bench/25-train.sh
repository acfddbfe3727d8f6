#!/usr/bin/env bash
# One optimizer step of rpo-train's loop on SmolLM2-135M's shape (random weights; 8 pairs x 256 tokens, half
# prompt), DPO and RPO-paired, next to a PyTorch eager implementation of the official step (train_torch.py) measured
# in the same run; and rpo with precomputed reference log-probs (rpo-train score) against rpo with the reference
# model loaded. Targets: rpo >= 1.3x PyTorch; precomputed >= 1.3x faster than with the reference model.
# Environment: TRAIN_SHAPE (smollm2-135m), TRAIN_PAIRS (8), TRAIN_SEQ (256), TRAIN_STEPS (timed steps, default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/rpo-bench
[ -x "$BIN" ] || { echo "25-train: $BIN is missing (run make build)" >&2; exit 1; }
SHAPE=${TRAIN_SHAPE:-smollm2-135m}; PAIRS=${TRAIN_PAIRS:-8}; SEQ=${TRAIN_SEQ:-256}; STEPS=${TRAIN_STEPS:-2}
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are disturbed by other work)"
have_torch=1
python3 -c 'import torch, transformers' 2>/dev/null || { have_torch=0; echo "25-train: PyTorch not found, rpo's numbers only"; }
results=""
for loss in dpo rpo-paired; do
  args=(--shape "$SHAPE" --loss "$loss" --pairs "$PAIRS" --seq "$SEQ" --steps "$STEPS")
  results+="$("$BIN" train "${args[@]}")"$'\n'
  results+="$("$BIN" train "${args[@]}" --precomputed)"$'\n'
  if [ "$have_torch" = 1 ]; then
    results+="$(python3 scripts/bench/train_torch.py "${args[@]}")"$'\n'
  fi
done
printf '%s' "$results" | python3 scripts/bench/train_table.py
