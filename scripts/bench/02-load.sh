#!/usr/bin/env bash
# Model loading: open the SmolLM2-135M Q4_1 GGUF and dequantize every tensor to f32 (and convert the MiniLM
# safetensors), rpo-bench next to gguf-py (`gguf.quants.dequantize` per tensor) and `safetensors.numpy`
# measured in the same run. Best of 3 runs each (pages in the page cache).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/rpo-bench
[ -x "$BIN" ] || { echo "02-load: $BIN is missing (run make build)" >&2; exit 1; }
GGUF=models/SmolLM2-135M-Instruct.Q4_1.gguf
ST=models/all-MiniLM-L6-v2/model.safetensors
for f in "$GGUF" "$ST"; do [ -e "$f" ] || { echo "02-load: $f is missing (run make models)" >&2; exit 1; }; done
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are disturbed by other work)"
ours=$("$BIN" load "$GGUF" "$ST" --repeat 3)
if ! python3 -c 'import gguf, safetensors, numpy' 2>/dev/null; then
  echo "02-load: gguf/safetensors (Python) not found, printing rpo's numbers only"; echo "$ours"; exit 0
fi
echo "$ours" | python3 scripts/bench/load_python.py "$GGUF" "$ST"
