#!/usr/bin/env python3
# Reads rpo-bench sgemm records on stdin (rpo's panels and OpenBLAS's own threads per shape and thread
# count), times torch.matmul at the same shape, transposes and thread count, and prints the rates and the
# ratio of rpo's (panels) to torch's (used by 00-sgemm.sh). torch 2.13.0+cpu.
import json
import os
import sys
import time

import torch

per = float(os.environ.get("SECONDS_PER", "0.5"))
print(f"{'shape':22} {'M x N x K':>18} {'op':>3} {'thr':>3} {'rpo GFLOP/s':>12} {'OpenBLAS thr':>12} {'torch GFLOP/s':>14} {'ratio':>6}")
records = [json.loads(line) for line in sys.stdin]
openblas = {(r["shape"], r["threads"]): r["gflops"] for r in records if r.get("impl") == "openblas"}
for r in records:
    if r.get("impl", "panels") != "panels":
        continue
    m, n, k, ta, tb, t = r["m"], r["n"], r["k"], r["ta"], r["tb"], r["threads"]
    torch.set_num_threads(t)
    g = torch.Generator().manual_seed(1)
    a = torch.rand((k, m) if ta else (m, k), generator=g) - 0.5
    b = torch.rand((n, k) if tb else (k, n), generator=g) - 0.5
    aa = a.t() if ta else a
    bb = b.t() if tb else b
    c = torch.empty(m, n)
    torch.matmul(aa, bb, out=c)  # warm-up
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < per:
        torch.matmul(aa, bb, out=c)
        reps += 1
    sec = (time.perf_counter() - start) / reps
    tg = 2.0 * m * n * k / sec / 1e9
    op = ("T" if ta else "N") + ("T" if tb else "N")
    dims = f"{m} x {n} x {k}"
    ob = openblas.get((r["shape"], t), float("nan"))
    print(f"{r['shape']:22} {dims:>18} {op:>3} {t:>3} {r['gflops']:>12.1f} {ob:>12.1f} {tg:>14.1f} {r['gflops'] / tg:>6.2f}")
