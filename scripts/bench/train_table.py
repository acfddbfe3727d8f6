#!/usr/bin/env python3
"""Formats the records of `rpo-bench train` and train_torch.py (JSON lines on stdin) for 25-train.sh: seconds per
step, wall-clock and CPU (user + system of all threads; steadier than wall-clock on a shared machine), rpo against
PyTorch, and rpo with precomputed reference log-probs against rpo with the reference model."""
import json
import sys

rows = [json.loads(l) for l in sys.stdin if l.strip()]


def find(loss, impl, ref):
    return next((r for r in rows if r["loss"] == loss and r.get("impl", "rpo") == impl and r["reference"] == ref), None)


def pair(r):
    return f"{r['s_per_step']:7.1f} /{r['cpu_s_per_step']:6.1f}" if r else f"{'-':>15}"


def ratio(a, b):
    return f"{a['s_per_step'] / b['s_per_step']:5.2f}x /{a['cpu_s_per_step'] / b['cpu_s_per_step']:5.2f}x" if a and b else "-"


print("seconds per step, wall-clock / CPU; ratios above 1 favour rpo (targets: 1.3x and 1.3x)")
print(f"{'loss':11} {'rpo':>15} {'PyTorch':>15} {'PyTorch/rpo':>16} {'rpo precomputed':>16} {'ref/precomputed':>16} {'RSS MB rpo/torch':>17}")
for loss in ("dpo", "rpo-paired"):
    ours, pre, t = find(loss, "rpo", "model"), find(loss, "rpo", "precomputed"), find(loss, "pytorch", "model")
    if not ours:
        continue
    rss = f"{ours['peak_rss_mb']}/{t['peak_rss_mb'] if t else '-'}"
    print(f"{loss:11} {pair(ours):>15} {pair(t):>15} {ratio(t, ours):>16} {pair(pre):>16} {ratio(ours, pre):>16} {rss:>17}")
