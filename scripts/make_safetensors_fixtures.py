#!/usr/bin/env python3
# Makes Tests/Fixtures/safetensors/ with the reference implementation, the Python `safetensors` package
# (Rust crate inside). Versions used: safetensors 0.8.0, torch 2.13.0+cpu, numpy 2.4.6.
#
#   dtypes.safetensors / dtypes.json   one tensor per dtype (F64 F32 F16 BF16 I64 I32 I16 I8 U8 U16 U32 U64
#                                      BOOL), with special values (subnormals, -0, inf, nan); the JSON holds
#                                      the expected f32 bit patterns (torch `.float()`) or integer values.
#   writer.safetensors                 what `safetensors.torch.save_file` writes for the tensors and metadata
#                                      of writer_tensors() below (byte-identical to safetensors.numpy's);
#                                      the Swift writer must reproduce it byte for byte.
#   writer_multi_metadata.safetensors  the same tensors with three metadata keys. The crate keeps metadata
#                                      in a HashMap, so its key order varies from call to call; this file is
#                                      a save_file output whose keys happened to come out sorted (the order
#                                      the Swift writer uses), found by retrying; checked to load back.
#   sharded/                           two shards + model.safetensors.index.json in the Hugging Face layout.
import hashlib
import json
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "safetensors")


def f32_bits(t):
    return t.to(torch.float32).contiguous().view(torch.int32).flatten().tolist()


def dtypes():
    f = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.140625, 65504.0, 6.1035156e-05, 5.9604645e-08, 1e-7,
                      float("inf"), float("-inf"), float("nan"), 1234.5678, -0.1, 3e38, 1e-40], dtype=torch.float64)
    tensors = {
        "f64": f.reshape(4, 4),
        "f32": f.to(torch.float32).reshape(2, 8),
        "f16": f.to(torch.float16).reshape(16),
        "bf16": f.to(torch.bfloat16).reshape(2, 2, 4),
        "i64": torch.tensor([[0, 1, -1, 2**62, -2**63, 2**63 - 1]], dtype=torch.int64),
        "i32": torch.tensor([0, 1, -1, 2**31 - 1, -2**31], dtype=torch.int32),
        "i16": torch.tensor([0, -32768, 32767], dtype=torch.int16),
        "i8": torch.tensor([0, -128, 127, -1], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 1, 128], dtype=torch.uint8),
        "u16": torch.tensor([0, 65535], dtype=torch.uint16),
        "u32": torch.tensor([0, 4294967295], dtype=torch.uint32),
        "u64": torch.tensor([0, 2**63 - 1], dtype=torch.uint64),
        "bool": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar": torch.tensor(7.5, dtype=torch.float32),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
    }
    path = os.path.join(OUT, "dtypes.safetensors")
    save_file(tensors, path, metadata={"format": "pt", "note": "dtypes fixture"})
    expected = {}
    back = load_file(path)
    for name, t in tensors.items():
        # Read back bit for bit (NaN included: compare the bytes, not the values).
        assert back[name].dtype == t.dtype and back[name].shape == t.shape, name
        assert back[name].flatten().view(torch.uint8).tolist() == t.flatten().view(torch.uint8).tolist(), name
        e = {"shape": list(t.shape)}
        if t.is_floating_point():
            e["f32_bits"] = f32_bits(t)
        else:
            e["values"] = [int(v) for v in t.flatten().tolist()]
        expected[name] = e
    with safe_open(path, "pt") as fh:
        meta = fh.metadata()
    with open(os.path.join(OUT, "dtypes.json"), "w") as fh:
        json.dump({"metadata": meta, "tensors": expected}, fh, indent=1, sort_keys=True)
        fh.write("\n")


def writer_tensors():
    # Values exact in f32 and reproducible in Swift: Float(Double(k) / 37.0) with integer k.
    def vals(n, seed):
        return torch.tensor([((i * 7919 + seed * 104729) % 2001 - 1000) / 37.0 for i in range(n)], dtype=torch.float64).to(torch.float32)
    return {
        "b.weight": vals(15, 1).reshape(3, 5),
        "a.bias": vals(5, 2),
        "z": vals(16, 3).reshape(4, 4).to(torch.bfloat16),
        "m": vals(12, 4).reshape(2, 3, 2).to(torch.float16),
        "ids": torch.arange(8, dtype=torch.int64).reshape(1, 8) * 3 - 5,
        "empty": torch.zeros((0, 3), dtype=torch.float32),
        "\u00e9t\u00e9 \"q\"": vals(2, 5),
    }


def writer():
    tensors = writer_tensors()
    path = os.path.join(OUT, "writer.safetensors")
    save_file(tensors, path, metadata={"format": "pt"})
    with open(path, "rb") as fh:
        torch_bytes = fh.read()
    # safetensors.numpy writes the same bytes (bf16 has no numpy dtype: compare the others).
    tmp = path + ".np"
    np_tensors = {k: v.numpy() for k, v in tensors.items() if v.dtype != torch.bfloat16}
    save_file({k: v for k, v in tensors.items() if v.dtype != torch.bfloat16}, tmp + ".pt", metadata={"format": "pt"})
    np_save_file(np_tensors, tmp, metadata={"format": "pt"})
    with open(tmp, "rb") as a, open(tmp + ".pt", "rb") as b:
        assert a.read() == b.read(), "safetensors.numpy and safetensors.torch disagree"
    os.remove(tmp); os.remove(tmp + ".pt")

    meta = {"format": "pt", "b": "second", "a": "first \u00e9 \"quoted\""}
    path2 = os.path.join(OUT, "writer_multi_metadata.safetensors")
    for attempt in range(1000):
        save_file(tensors, path2, metadata=meta)
        with open(path2, "rb") as fh:
            data = fh.read()
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
        if list(header["__metadata__"].keys()) == sorted(meta.keys(), key=lambda s: s.encode()):
            break
    else:
        sys.exit("never saw the metadata keys in sorted order")
    back = load_file(path2)
    with safe_open(path2, "pt") as fh:
        assert fh.metadata() == meta
    for k, v in tensors.items():
        assert torch.equal(back[k], v), k
    print(f"writer: {len(torch_bytes)} bytes, sha256 {hashlib.sha256(torch_bytes).hexdigest()}; "
          f"multi-metadata found after {attempt + 1} saves")


def sharded():
    d = os.path.join(OUT, "sharded")
    os.makedirs(d, exist_ok=True)
    shard1 = {"model.embed.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4),
              "model.layers.0.w": torch.full((2, 2), 0.5, dtype=torch.float32)}
    shard2 = {"model.layers.1.w": torch.full((2, 2), -1.5, dtype=torch.float16),
              "lm_head.weight": torch.arange(4, dtype=torch.float32) / 8}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    total = 0
    weight_map = {}
    for shard, name in zip([shard1, shard2], names):
        save_file(shard, os.path.join(d, name), metadata={"format": "pt"})
        for k, v in shard.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as fh:
        json.dump(index, fh, indent=2, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    dtypes()
    writer()
    sharded()
