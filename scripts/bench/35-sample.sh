#!/usr/bin/env bash
# Decoding throughput: rpo-sample's generator (KV cache, batch-invariant steps) on SmolLM2-135M-Instruct,
# batch 1 and 8, 128 new tokens, next to transformers' generate (PyTorch CPU, 2 threads, fp32, the same
# GGUF dequantized) measured in the same run. Batch-1 decoding is bound by memory bandwidth: rpo-bench
# reports the fp32 weight bytes it streams per second next to the machine's read bandwidth.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/rpo-bench
[ -x "$BIN" ] || { echo "35-sample: $BIN is missing (run make build)" >&2; exit 1; }
GGUF=models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -e "$GGUF" ] || { echo "35-sample: $GGUF is missing (run make models)" >&2; exit 1; }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are disturbed by other work)"
ours=$("$BIN" sample "$GGUF" --batch 1,8 --new-tokens 128)
if ! python3 -c 'import torch, transformers, gguf' 2>/dev/null; then
  echo "35-sample: torch/transformers not found, printing rpo's numbers only"; echo "$ours"; exit 0
fi
echo "$ours" | python3 scripts/bench/sample_torch.py "$GGUF"
