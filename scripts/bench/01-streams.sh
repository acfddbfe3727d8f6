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

# best of REPEAT runs of a shell command: "wall_seconds cpu_seconds" (CPU = user + system of every process
# in the pipeline; less disturbed than wall-clock when the machine is shared)
best() {
  local b="" c="" out w u
  for _ in $(seq "$REPEAT"); do
    /usr/bin/time -o "$DIR/time" -f "%e %U %S" bash -c "$1" >/dev/null
    read -r w u s <"$DIR/time"
    if [ -z "$b" ] || [ "$(echo "$w < $b" | bc -l)" = 1 ]; then b=$w; fi
    u=$(echo "$u + $s" | bc -l)
    if [ -z "$c" ] || [ "$(echo "$u < $c" | bc -l)" = 1 ]; then c=$u; fi
  done
  echo "$b $c"
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

row() {  # name "ours_wall ours_cpu" "python_wall python_cpu"
  local ow oc pw pc
  read -r ow oc <<<"$2"
  printf "%-8s %10.1f %12s %7s   %9.2f %11s %7s\n" "$1" "$(echo "$BYTES / $ow / 1000000" | bc -l)" \
    "$([ -n "$3" ] && read -r pw pc <<<"$3" && printf %.1f "$(echo "$BYTES / $pw / 1000000" | bc -l)" || echo -)" \
    "$([ -n "$3" ] && read -r pw pc <<<"$3" && printf %.2f "$(echo "$pw / $ow" | bc -l)" || echo -)" \
    "$oc" \
    "$([ -n "$3" ] && read -r pw pc <<<"$3" && printf %.2f "$pc" || echo -)" \
    "$([ -n "$3" ] && read -r pw pc <<<"$3" && printf %.2f "$(echo "$pc / $oc" | bc -l)" || echo -)"
}
printf "%-8s %10s %12s %7s   %9s %11s %7s\n" "stream" "rpo MB/s" "python MB/s" "ratio" "rpo cpu s" "python cpu s" "ratio"
row read "$ours_read" "$py_read"
row rewrite "$ours_rewrite" "$py_rewrite"
echo "(MB/s from the best wall-clock time of $REPEAT runs; cpu s = user + system of all processes, best of $REPEAT)"
echo "rewrite output identical to Python's: $same"
if [ -n "$py_read" ]; then
  read -r ow oc <<<"$ours_read"; read -r pw pc <<<"$py_read"
  if [ "$(echo "$pw / $ow >= 3" | bc -l)" = 1 ]; then echo "target (read >= 3x Python, wall-clock): met"; else echo "target (read >= 3x Python, wall-clock): NOT met"; fi
  if [ "$(echo "$pc / $oc >= 3" | bc -l)" = 1 ]; then echo "target (read >= 3x Python, CPU time): met"; else echo "target (read >= 3x Python, CPU time): NOT met"; fi
fi
