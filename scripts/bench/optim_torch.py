#!/usr/bin/env python3
# Reads rpo-bench optim records on stdin, times the same step with torch.optim (one fp32 tensor of the same
# size, default single-tensor CPU path, torch threads = rpo's) and clip_grad_norm_, and prints both rates and
# their ratio (used by 31-optim.sh). torch 2.13.0+cpu.
import json
import os
import sys
import time

import torch

per = float(os.environ.get("SECONDS_PER", "1"))
print(f"{'op':10} {'params':>11} {'thr':>3} {'rpo ns/param':>13} {'torch ns/param':>15} {'rpo GB/s':>9} {'ratio':>6}")
for line in sys.stdin:
    r = json.loads(line)
    n, op = r["params"], r["op"]
    torch.set_num_threads(r["threads"])
    g = torch.Generator().manual_seed(1)
    p = torch.nn.Parameter(torch.rand(n, generator=g) - 0.5)
    p.grad = (torch.rand(n, generator=g) - 0.5) * 1e-3
    if op == "rmsprop":
        opt = torch.optim.RMSprop([p], lr=5e-7)
        step = opt.step
    elif op == "adamw":
        opt = torch.optim.AdamW([p], lr=5e-7)
        step = opt.step
    else:
        half = float(p.grad.norm()) / 2
        def step():
            torch.nn.utils.clip_grad_norm_([p], half)
    with torch.no_grad():
        step()  # warm-up: state allocation
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < per:
            step()
            reps += 1
    sec = (time.perf_counter() - start) / reps
    tn = sec / n * 1e9
    print(f"{op:10} {n:>11} {r['threads']:>3} {r['ns_per_param']:>13.3f} {tn:>15.3f} {r['gb_per_s']:>9.1f} {tn / r['ns_per_param']:>6.2f}")
