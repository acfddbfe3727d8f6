#!/usr/bin/env bash
# rpo-pairs throughput: batches with embedding contrast matrices (paired, batch 64, micro-batch 8, tau 0.5) for
# N synthetic tokenized pairs with 384-dim embeddings (default 100,000, ~1.2 GB of JSON; PAIRS_BENCH_N overrides),
# next to the Python equivalent (json + numpy, scripts/bench/pairs_reference.py) on the same file. Wall-clock
# times depend on what else runs on the machine: CPU times (user+sys) are printed too.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${PAIRS_BENCH_N:-100000}
BIN=.build/release/rpo-pairs
[ -x "$BIN" ] || { echo "30-pairs: build first (make build)"; exit 1; }
DIR=${TMPDIR:-/tmp}/rpo-bench-pairs
mkdir -p "$DIR"
IN=$DIR/pairs-$N.jsonl.zst
if [ ! -s "$IN" ]; then
  echo "30-pairs: generating $N synthetic pairs in $IN (once)"
  python3 scripts/bench/pairs_synth.py "$N" | zstd -q -3 -T0 -o "$IN"
fi
BYTES=$(zstd -dc "$IN" | wc -c)

measure() {  # label, command...: prints "label wall cpu" and sets WALL
  local label=$1; shift
  local t0 t1 tf
  tf=$(mktemp)
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$tf" "$@"
  t1=$(date +%s.%N)
  read -r u s m < "$tf"; rm -f "$tf"
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
  awk -v l="$label" -v w="$WALL" -v c="$CPU" -v n="$N" -v b="$BYTES" -v m="$m" 'BEGIN {
    printf "%-24s %8.2f s wall %8.2f s cpu %9.0f pairs/s %7.1f MB/s  peak %5.0f MB\n", l, w, c, n / w, b / 1e6 / w, m / 1024 }'
}

echo "30-pairs: $N pairs, $((BYTES / 1000000)) MB of JSON Lines (zstd in and out)"
measure "rpo-pairs" "$BIN" --layout paired --batch-size 64 --micro-batch 8 --tau 0.5 -q "$IN" -o "$DIR/ours.zst"
OURS=$WALL; OURS_CPU=$CPU
if python3 -c "import numpy" 2>/dev/null; then
  measure "python (json + numpy)" python3 scripts/bench/pairs_reference.py "$IN" "$DIR/python.zst" 64 8 0.5 1
  awk -v w="$WALL" -v o="$OURS" -v c="$CPU" -v oc="$OURS_CPU" 'BEGIN {
    printf "%-24s %8.2fx wall %8.2fx cpu (python / rpo-pairs)\n", "ratio", w / o, c / oc }'
  printf "%-24s %d vs %d batch records\n" "check" "$(zstd -dc "$DIR/ours.zst" | wc -l)" "$(zstd -dc "$DIR/python.zst" | wc -l)"
else
  echo "30-pairs: numpy not found; Python comparison skipped"
fi
rm -f "$DIR/ours.zst" "$DIR/python.zst"
