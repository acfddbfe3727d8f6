#!/usr/bin/env python3
# Reads rpo-bench sample records on stdin and times transformers' generate on the same prompt, batch and
# token count (used by 35-sample.sh): PyTorch CPU, 2 threads, fp32 (the GGUF dequantized by transformers),
# greedy, EOS suppressed until the last token (min_new_tokens), KV cache on. Best of 2 runs, load excluded.
# Wall-clock rates, and CPU-time rates (tokens per process CPU second x threads: an estimate of the rate on
# free cores, steadier on a busy machine; PyTorch's OpenMP spin-waiting counts as CPU time there).
# torch 2.13.0+cpu, transformers 5.24.0, gguf 0.19.0.
import json
import os
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

path = sys.argv[1]
d, f = os.path.dirname(path), os.path.basename(path)
torch.set_num_threads(2)
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
records = [json.loads(l) for l in sys.stdin if l.strip()]
prompt = "Write a short story about a robot who learns to paint."
text = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)
ids = tok(text, add_special_tokens=False)["input_ids"]
print(f"{'batch':>5} {'prompt':>6} {'new':>4} {'rpo tok/s':>10} {'torch tok/s':>12} {'ratio':>6} "
      f"{'weights GB/s':>13} {'read GB/s':>10} {'of bandwidth':>13} {'cpu-est rpo':>12} {'cpu-est torch':>14} {'ratio':>6}")
for r in records:
    assert r["prompt_tokens"] == len(ids), (r["prompt_tokens"], len(ids))
    B, N = r["batch"], r["new_tokens"]
    x = torch.tensor([ids] * B)
    best, best_cpu = float("inf"), float("inf")
    with torch.no_grad():
        for _ in range(2):
            t, c = time.perf_counter(), time.process_time()
            out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=N,
                                 min_new_tokens=N, pad_token_id=tok.pad_token_id)
            best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, time.process_time() - c)
            assert out.shape[1] == len(ids) + N
    theirs = B * N / best
    ours_cpu = B * N / (r["cpu_seconds"] / r["threads"])
    theirs_cpu = B * N / (best_cpu / torch.get_num_threads())
    print(f"{B:>5} {len(ids):>6} {N:>4} {r['tokens_per_s']:>10.1f} {theirs:>12.1f} {r['tokens_per_s'] / theirs:>6.2f} "
          f"{r['weight_gb_per_s']:>13.2f} {r['read_gb_per_s']:>10.2f} {r['bandwidth_fraction']:>13.2f} "
          f"{ours_cpu:>12.1f} {theirs_cpu:>14.1f} {ours_cpu / theirs_cpu:>6.2f}")
