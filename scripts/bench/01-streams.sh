#!/usr/bin/env bash
# Stream throughput (foundation issue): reading and rewriting zstd JSON Lines of tokenized HH-RLHF pairs
# (token-id arrays), in MB/s of decompressed text, next to the Python pipeline in the same run:
#   read:    rpo-bench streams read F        vs  zstdcat F | python3 (json.loads per line)
#   rewrite: rpo-bench streams rewrite F -o  vs  zstdcat F | python3 (loads + dumps) | zstd -3
# Target: read at least 3x the Python pipeline. Each side is timed as wall-clock, best of BENCH_REPEAT runs
# (default 3); the rewrite outputs are checked to be the same text.
# Environment: STREAMS_RECORDS (default 60000, about 175 MB of text), BENCH_DIR (scratch, default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/rpo-bench
[ -x "$BIN" ] || { echo "01-streams: $BIN is missing (run make build)" >&2; exit 1; }
RECORDS=${STREAMS_RECORDS:-60000}
REPEAT=${BENCH_REPEAT:-3}
if [ -n "${BENCH_DIR:-}" ]; then DIR=$BENCH_DIR; mkdir -p "$DIR"; else DIR=$(mktemp -d); trap 'rm -rf "$DIR"' EXIT; fi
F=$DIR/pairs.jsonl.zst

"$BIN" streams generate --records "$RECORDS" -o "$F"
BYTES=$(zstdcat "$F" | wc -c)
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are disturbed by other work)"
echo "data: $RECORDS records, $BYTES bytes of JSON Lines ($(stat -c %s "$F") bytes zstd)"

# best wall-clock seconds of REPEAT runs of a shell command
best() {
  local b="" t0 t1 d
  for _ in $(seq "$REPEAT"); do
    t0=$(date +%s.%N); bash -c "$1" >/dev/null; t1=$(date +%s.%N)
    d=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$d < $b" | bc -l)" = 1 ]; then b=$d; fi
  done
  echo "$b"
}

PY_READ='import sys, json
for line in sys.stdin: json.loads(line)'
PY_REWRITE='import sys, json
w = sys.stdout.write
for line in sys.stdin: w(json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":")) + "\n")'

ours_read=$(best "'$BIN' streams read '$F'")
ours_rewrite=$(best "'$BIN' streams rewrite '$F' -o '$DIR/ours.jsonl.zst'")
if command -v python3 >/dev/null; then
  py_read=$(best "zstdcat '$F' | python3 -c '$PY_READ'")
  py_rewrite=$(best "zstdcat '$F' | python3 -c '$PY_REWRITE' | zstd -3 -q > '$DIR/py.jsonl.zst'")
  same=$([ "$(zstdcat "$DIR/ours.jsonl.zst" | md5sum)" = "$(zstdcat "$DIR/py.jsonl.zst" | md5sum)" ] && echo yes || echo NO)
else
  echo "01-streams: python3 not found, printing rpo's numbers only"
  py_read=""; py_rewrite=""; same="n/a"
fi

row() {  # name ours_seconds python_seconds
  local o p ratio
  o=$(echo "$BYTES / $2 / 1000000" | bc -l)
  if [ -n "$3" ]; then
    p=$(echo "$BYTES / $3 / 1000000" | bc -l); ratio=$(echo "$3 / $2" | bc -l)
    printf "%-8s %10.1f %12.1f %7.2f\n" "$1" "$o" "$p" "$ratio"
  else
    printf "%-8s %10.1f %12s %7s\n" "$1" "$o" "-" "-"
  fi
}
printf "%-8s %10s %12s %7s\n" "stream" "rpo MB/s" "python MB/s" "ratio"
row read "$ours_read" "$py_read"
row rewrite "$ours_rewrite" "$py_rewrite"
echo "rewrite output identical to Python's: $same"
if [ -n "$py_read" ]; then
  if [ "$(echo "$py_read / $ours_read >= 3" | bc -l)" = 1 ]; then echo "target (read >= 3x Python): met"; else echo "target (read >= 3x Python): NOT met"; fi
fi
