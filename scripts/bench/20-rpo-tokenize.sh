#!/usr/bin/env bash
# rpo-tokenize throughput: the bundled HH harmless-base test split (2,312 pairs) formatted and tokenised in
# the official mode with the SmolLM2 tokenizer, against the same work in Python (the re-implementation of the
# official get_hh + tokenize_batch_element in scripts/fixtures/data_reference.py, transformers' fast
# tokenizer), measured in this run. Tokenizer loading is timed separately (an empty input) and subtracted.
# Numbers taken on a busy machine are only indicative: re-run on a quiet one.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/rpo-tokenize
IN=data/hh-rlhf/harmless-base/test.jsonl.gz
PAIRS=2312
# Ours reads SmolLM2's tokenizer.json (the tokenizer fixture, as transformers writes it from the GGUF file);
# Python reads the GGUF file itself: the same tokenizer (the data tests check identical ids).
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TOK="$TMP/smollm2"
mkdir -p "$TOK"
zstd -q -d -c Tests/Fixtures/tokenizers/smollm2/tokenizer.json.zst > "$TOK/tokenizer.json"
cp Tests/Fixtures/tokenizers/smollm2/tokenizer_config.json "$TOK/"
[ -x "$BIN" ] || { echo "tokenize: $BIN missing (make build)"; exit 1; }

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

t0=$(now); "$BIN" --dataset hh --tokenizer "$TOK" -q --no-compress </dev/null >/dev/null; t1=$(now)
load=$(secs "$t0" "$t1")
results=()
for threads in 1 2; do
  t0=$(now); RPO_THREADS=$threads "$BIN" --dataset hh --split test --tokenizer "$TOK" -q "$IN" >/dev/null; t1=$(now)
  results+=("$threads:$(secs "$t0" "$t1")")
done

py=$(python3 - "$IN" <<'PY' 2>/dev/null || echo "none"
import sys, time, os
sys.path.insert(0, 'scripts/fixtures')
import data_reference as d
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained('models', gguf_file='SmolLM2-135M-Instruct.Q4_1.gguf')
t0 = time.perf_counter()
data = d.hh(d.read_rows(sys.argv[1]))
n = 0
for ex in data.values():
    for i, j in ex.pairs:
        d.tokenize(tok, ex.prompt, ex.generations[i], ex.truncation_mode, 512, 256)
        d.tokenize(tok, ex.prompt, ex.generations[j], ex.truncation_mode, 512, 256)
        n += 1
print(f'{time.perf_counter() - t0:.3f}')
PY
)
echo "tokenize: tokenizer load ${load} s (subtracted below)"
for r in "${results[@]}"; do
  th=${r%%:*}; total=${r#*:}
  python3 - "$th" "$total" "$load" "$py" "$PAIRS" <<'PY'
import sys
th, total, load, py, pairs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ours = max(total - load, 1e-9)
line = f"tokenize: hh official, {th} thread(s): {pairs / ours:8.0f} pairs/s (rpo-tokenize, {ours:.2f} s)"
if py != "none":
    line += f"  vs {pairs / float(py):8.0f} pairs/s (Python + HF tokenizers, {float(py):.2f} s, 1 thread, includes its own formatting)  ratio {float(py) / ours:.2f}x"
else:
    line += "  (Python reference stack not found: no comparison)"
print(line)
PY
done
