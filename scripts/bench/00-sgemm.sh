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
echo "$ours" | SECONDS_PER="$SECONDS_PER" python3 -c '
import json, os, sys, time
import torch
per = float(os.environ["SECONDS_PER"])
print(f"{\"shape\":22} {\"M x N x K\":>18} {\"op\":>5} {\"thr\":>3} {\"rpo GFLOP/s\":>12} {\"torch GFLOP/s\":>14} {\"ratio\":>6}")
for line in sys.stdin:
    r = json.loads(line)
    m, n, k, ta, tb, t = r["m"], r["n"], r["k"], r["ta"], r["tb"], r["threads"]
    torch.set_num_threads(t)
    g = torch.Generator().manual_seed(1)
    a = torch.rand((k, m) if ta else (m, k), generator=g) - 0.5
    b = torch.rand((n, k) if tb else (k, n), generator=g) - 0.5
    aa = a.t() if ta else a
    bb = b.t() if tb else b
    c = torch.empty(m, n)
    torch.matmul(aa, bb, out=c)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < per:
        torch.matmul(aa, bb, out=c)
        reps += 1
    sec = (time.perf_counter() - start) / reps
    tg = 2.0 * m * n * k / sec / 1e9
    op = ("T" if ta else "N") + ("T" if tb else "N")
    print(f"{r[\"shape\"]:22} {f\"{m} x {n} x {k}\":>18} {op:>5} {t:>3} {r[\"gflops\"]:>12.1f} {tg:>14.1f} {r[\"gflops\"] / tg:>6.2f}")
'
