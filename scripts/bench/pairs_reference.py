#!/usr/bin/env python3
"""The Python equivalent of `rpo-pairs --layout paired --weighting embedding`, for scripts/bench/30-pairs.sh:
zstd JSON Lines in (zstd -dc), json.loads per record, embeddings popped into a float32 array, records
re-serialized once, a seeded shuffle, full batches of --batch-size, per micro-batch W = softmax(-D/tau) over rows
from L2-normalised embeddings in float64 (numpy; what trainers.py does with torch per device), batch records
written as zstd JSON Lines (zstd -c). Usage: pairs_reference.py IN.zst OUT.zst [BATCH MICRO TAU SEED]"""
import json
import random
import subprocess
import sys

import numpy as np


def main():
    inp, out = sys.argv[1], sys.argv[2]
    batch, micro, tau, seed = (int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])) \
        if len(sys.argv) > 6 else (64, 8, 0.5, 1)
    dec = subprocess.Popen(["zstd", "-q", "-dc", inp], stdout=subprocess.PIPE)
    elems, embs = [], []
    for line in dec.stdout:
        if not line.strip():
            continue
        rec = json.loads(line)
        embs.append(rec.pop("prompt_embedding"))
        elems.append(json.dumps(rec, separators=(",", ":"), ensure_ascii=False))
    dec.wait()
    emb = np.asarray(embs, dtype=np.float32)
    del embs
    order = list(range(len(elems)))
    random.Random(seed).shuffle(order)
    enc = subprocess.Popen(["zstd", "-q", "-3", "-c"], stdin=subprocess.PIPE, stdout=open(out, "wb"))
    groups = [list(range(g, g + micro)) for g in range(0, batch, micro)]
    for b in range(len(order) // batch):
        idx = order[b * batch:(b + 1) * batch]
        weights = []
        for g in range(0, batch, micro):
            e = emb[idx[g:g + micro]].astype(np.float64)
            n = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
            x = -(1 - n @ n.T) / tau
            x -= x.max(axis=1, keepdims=True)
            w = np.exp(x)
            w /= w.sum(axis=1, keepdims=True)
            weights.append(w.astype(np.float32).tolist())
        header = json.dumps({"step": b, "epoch": 0, "layout": "paired", "weighting": "embedding", "tau": tau,
                             "batch_size": batch, "micro_batch": micro, "groups": groups, "weights": weights},
                            separators=(",", ":"))
        enc.stdin.write((header[:-1] + ',"examples":[' + ",".join(elems[i] for i in idx) + "]}\n").encode())
    enc.stdin.close()
    enc.wait()


if __name__ == "__main__":
    main()
