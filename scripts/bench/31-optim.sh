#!/usr/bin/env bash
# One RMSprop / AdamW step and one global-norm clip over a flat fp32 buffer (default 2^25 parameters; OPTIM_PARAMS
# overrides, e.g. 134515008 for SmolLM2-135M), rpo-bench next to torch.optim and clip_grad_norm_ at the same size
# and thread count, in the same run. Memory-bound: both sides stream the same bytes.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/rpo-bench
[ -x "$BIN" ] || { echo "31-optim: $BIN is missing (run make build)" >&2; exit 1; }
N=${OPTIM_PARAMS:-33554432}
SECONDS_PER=${OPTIM_SECONDS:-1}
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are disturbed by other work)"
ours=$("$BIN" optim --params "$N" --seconds "$SECONDS_PER")
if ! python3 -c 'import torch' 2>/dev/null; then
  echo "31-optim: PyTorch not found, printing rpo's numbers only"
  echo "$ours"
  exit 0
fi
echo "$ours" | SECONDS_PER="$SECONDS_PER" python3 scripts/bench/optim_torch.py
