#!/usr/bin/env bash
# sgemm GFLOP/s at the shapes the models run (SmolLM2-135M, MiniLM), 1 and 2 threads: OpenBLAS through
# rpo-bench next to PyTorch's matmul at the same shapes and thread counts, measured in the same run.
# This is the peak the other benchmarks report their utilisation against.
# Environment: SGEMM_SECONDS (time per measurement, default 0.5), SGEMM_THREADS (default 1,2).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/rpo-bench
[ -x "$BIN" ] || { echo "00-sgemm: $BIN is missing (run make build)" >&2; exit 1; }
SECONDS_PER=${SGEMM_SECONDS:-0.5}
THREADS=${SGEMM_THREADS:-1,2}
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are disturbed by other work)"
ours=$("$BIN" sgemm --threads "$THREADS" --seconds "$SECONDS_PER")
if ! python3 -c 'import torch' 2>/dev/null; then
  echo "00-sgemm: PyTorch not found, printing rpo's numbers only"
  echo "$ours"
  exit 0
fi
echo "$ours" | SECONDS_PER="$SECONDS_PER" python3 scripts/bench/sgemm_torch.py
