#!/usr/bin/env bash
# The comparison of docs/results.md (`make experiment`), run stage by stage with the wall time of each stage
# appended to OUT/walltimes.tsv. The protocol (model, data, variants, learning rates, seeds, metrics) was fixed in
# docs/results.md before any of its numbers were seen; change it there, not here, and say so.
#
# Every stage is a set of file targets of pipelines/hh.mk: a killed run loses at most the training steps since
# the last checkpoint, and running this script again resumes where it stopped (a stage already complete is
# skipped and its earlier time kept). It took 69 minutes on 2 cores (docs/results/walltimes.tsv).
#   scripts/experiment.sh [OUT]            (default out/exp)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/exp}
MK=(make --no-print-directory -f pipelines/hh.mk)

# The protocol's scale (docs/results.md, "Protocol").
VARIANTS="dpo rpo-paired-0.5 rpo-clustered-0.5 rpo-uniform rpo-diagonal"
COMMON=(SFT=0 N_TRAIN=256 N_VAL=64 N_EVAL= N_TEST=64 BATCH=8 MICRO=8 MAX_LENGTH=256 MAX_PROMPT_LENGTH=128
        TOOLS_INVALIDATE=0 WARMUP=2 CHECKPOINT_EVERY=8 EVAL_FIRST=0 EVAL_EVERY=256 BOOTSTRAP=10000
        LR=3e-5 LR_dpo=1e-5 SAMPLE_ARGS="--top-p 0.95 --max-new-tokens 64")
SEED1=(OUT="$OUT" SEED=1 VARIANTS="$VARIANTS" "${COMMON[@]}")
# The second seed: dpo and rpo-paired-0.5 again (another pair order), on the same prepared data.
SEED2=(OUT="$OUT/seed-2" DATA="$OUT/data" SEED=2 VARIANTS="dpo rpo-paired-0.5" "${COMMON[@]}")

mkdir -p "$OUT"
times=$OUT/walltimes.tsv
[ -e "$times" ] || printf 'stage\tseconds\tfinished\n' > "$times"

# stage NAME ARGS-ARRAY-NAME TARGET...: makes the targets unless they are up to date, and records the time.
stage() {
  local name=$1 args=$2; shift 2
  local -n a=$args
  if "${MK[@]}" -q "${a[@]}" "$@" 2>/dev/null; then
    echo "experiment: $name: up to date" >&2
    return
  fi
  echo "experiment: $name ..." >&2
  local t0=$SECONDS
  "${MK[@]}" "${a[@]}" "$@"
  printf '%s\t%d\t%s\n' "$name" $((SECONDS - t0)) "$(date -u +%FT%TZ)" >> "$times"
}

stage data SEED1 data
stage scored SEED1 scored
for v in $VARIANTS; do stage "train $v" SEED1 "$OUT/$v/metrics.jsonl"; done
for v in dpo rpo-paired-0.5; do stage "train $v seed 2" SEED2 "$OUT/seed-2/$v/metrics.jsonl"; done
stage heldout SEED1 heldout
stage "heldout seed 2" SEED2 heldout
stage judge SEED1 judge
stage samples SEED1 samples
stage judgments SEED1 judgments
stage results SEED1 results
echo "experiment: done; wall times in $times" >&2
