#!/usr/bin/env python3
# Reads rpo-bench load records on stdin and times the Python equivalent of each (used by 02-load.sh):
# GGUF: gguf.GGUFReader + gguf.quants.dequantize of every tensor; safetensors: safetensors.numpy.load_file
# + astype(float32) of the float tensors. Best of 3. gguf 0.19.0, safetensors 0.8.0, numpy 2.4.6.
import json
import os
import sys
import time

import numpy as np
import gguf
from safetensors.numpy import load_file


def best(f, n=3):
    b = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t)
    return b


def load_gguf(path):
    r = gguf.GGUFReader(path)
    for t in r.tensors:
        gguf.quants.dequantize(t.data, t.tensor_type)


def load_st(path):
    for v in load_file(path).values():
        if v.dtype.kind == "f":
            v.astype(np.float32)


paths = {os.path.basename(p): p for p in sys.argv[1:]}
print(f"{'file':36} {'params':>11} {'rpo s':>8} {'python s':>9} {'ratio':>6}")
for line in sys.stdin:
    r = json.loads(line)
    path = paths[r["file"]]
    py = best(lambda: load_gguf(path) if r["bench"] == "load.gguf" else load_st(path))
    print(f"{r['file']:36} {r['parameters']:>11} {r['seconds']:>8.3f} {py:>9.3f} {py / r['seconds']:>6.1f}")
