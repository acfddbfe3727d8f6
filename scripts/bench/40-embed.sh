#!/usr/bin/env bash
# Sentence-encoder throughput on 10,000 HH-RLHF prompts (scripts/bench/embed_prompts.py), 2 threads:
# rpo (rpo-bench embed: SentenceEncoder.encode, tokenization included) next to sentence-transformers on
# PyTorch CPU (scripts/bench/embed_torch.py: encode(batch_size=32)), measured in the same command, with the
# speed ratio, CPU seconds, peak RSS (each side's own process), rpo's model-FLOP rate against OpenBLAS sgemm
# at the encoder's shapes, and `rpo-bench sgemm` at MiniLM shapes. Then the whole rpo-embed tool on the same
# records (JSON in, zstd JSON out), under /usr/bin/time.
# Environment: EMBED_TEXTS (default 10000), EMBED_THREADS (default 2). On a shared machine the wall-clock
# numbers are disturbed by other work: compare within a run, and re-run on a quiet machine before quoting.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release
N=${EMBED_TEXTS:-10000}
T=${EMBED_THREADS:-2}
MODEL=models/all-MiniLM-L6-v2
export OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T RPO_THREADS=$T
for b in rpo-bench rpo-embed; do [ -x "$BIN/$b" ] || { echo "40-embed: $BIN/$b is missing (make build)" >&2; exit 1; }; done
[ -d "$MODEL" ] || { echo "40-embed: $MODEL is missing (make models)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 scripts/bench/embed_prompts.py --count "$N" > "$TMP/prompts.jsonl"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are disturbed by other work)"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], '-'))" "$1" "$2"; }

ours=$("$BIN/rpo-bench" embed --model "$MODEL" --threads "$T" "$TMP/prompts.jsonl") || exit 1
theirs=""
if python3 -c "import sentence_transformers" 2>/dev/null; then
  theirs=$(python3 scripts/bench/embed_torch.py --model "$MODEL" --threads "$T" "$TMP/prompts.jsonl" 2>/dev/null | tail -1)
else
  echo "40-embed: sentence-transformers not installed: rpo's numbers only"
fi
printf '  %-34s %10s %9s %9s %9s %8s\n' "" texts/s seconds cpu_s tokens peak_MB
printf '  %-34s %10s %9s %9s %9s %8s\n' "rpo SentenceEncoder ($T threads)" "$(field "$ours" texts_per_s)" \
  "$(field "$ours" seconds)" "$(field "$ours" cpu_seconds)" "$(field "$ours" tokens)" "$(field "$ours" peak_rss_mb)"
if [ -n "$theirs" ]; then
  printf '  %-34s %10s %9s %9s %9s %8s\n' "sentence-transformers ($T threads)" "$(field "$theirs" texts_per_s)" \
    "$(field "$theirs" seconds)" "$(field "$theirs" cpu_seconds)" "$(field "$theirs" tokens)" "$(field "$theirs" peak_rss_mb)"
  python3 -c "
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f'  ratio rpo / sentence-transformers: {o[\"texts_per_s\"] / t[\"texts_per_s\"]:.2f}x wall-clock, '
      f'{t[\"cpu_seconds\"] / o[\"cpu_seconds\"]:.2f}x in CPU seconds')" "$ours" "$theirs"
fi
echo "  rpo model FLOPs: $(field "$ours" model_gflops) GFLOP/s against OpenBLAS sgemm $(field "$ours" sgemm_gflops) GFLOP/s" \
     "at the encoder's shapes ($T threads): utilisation $(field "$ours" utilisation)"
echo "  per CPU second: $(field "$ours" model_gflops_per_cpu_s) against $(field "$ours" sgemm_gflops_per_cpu_s) GFLOP:" \
     "utilisation $(field "$ours" cpu_utilisation); tokenization $(field "$ours" tokenize_seconds) s"
echo "  rpo-bench sgemm at MiniLM shapes (GFLOP/s):"
"$BIN/rpo-bench" sgemm --threads "1,$T" --only minilm --seconds 0.3 |
  python3 -c "
import json, sys
for l in sys.stdin:
    r = json.loads(l); print(f'    {r[\"shape\"]:16} {r[\"m\"]}x{r[\"n\"]}x{r[\"k\"]} {r[\"threads\"]} thread(s): {r[\"gflops\"]}')"
# The tool end to end: parse, embed, serialise, compress.
/usr/bin/time -f "%e %M" -o "$TMP/time" "$BIN/rpo-embed" --model "$MODEL" -q "$TMP/prompts.jsonl" -o "$TMP/out.jsonl.zst" || exit 1
read -r secs kb < "$TMP/time"
python3 -c "import sys; n, s, kb = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); print(f'  rpo-embed tool (records in, zstd records out): {n / s:.2f} texts/s, {s:.1f} s, peak {kb >> 10} MB')" "$N" "$secs" "$kb"
