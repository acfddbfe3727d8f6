#!/usr/bin/env python3
"""Synthetic example records for scripts/bench/30-pairs.sh: N pairs shaped like tokenized HH-RLHF pairs with
MiniLM embeddings (prompt ~150 tokens, responses ~60, 384-dim unit float32 embedding, 1-3 pairs per prompt).
Writes plain JSON Lines to stdout. Usage: pairs_synth.py N [SEED]"""
import json
import sys

import numpy as np

n = int(sys.argv[1])
rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
out = sys.stdout
pid = 0
i = 0
while i < n:
    k = min(int(rng.integers(1, 4)), n - i)  # pairs sharing this prompt
    plen = int(rng.integers(40, 260))
    prompt = rng.integers(0, 49152, plen).tolist()
    e = rng.standard_normal(384).astype(np.float32)
    e /= np.linalg.norm(e)
    emb = [float(x) for x in np.round(e, 7)]
    for j in range(k):
        c = prompt + rng.integers(0, 49152, int(rng.integers(5, 120))).tolist()
        r = prompt + rng.integers(0, 49152, int(rng.integers(5, 120))).tolist()
        rec = {"id": i, "prompt_id": pid, "dataset": "synthetic", "split": "train", "prompt": f"prompt {pid}",
               "chosen": f"chosen {i}", "rejected": f"rejected {i}", "prompt_ids": prompt,
               "chosen_input_ids": c, "chosen_label_start": plen, "rejected_input_ids": r, "rejected_label_start": plen,
               "sft_target": j == 0, "prompt_embedding": emb}
        out.write(json.dumps(rec, separators=(",", ":")))
        out.write("\n")
        i += 1
    pid += 1
