#!/usr/bin/env python3
# Makes Tests/Fixtures/gguf/ with the reference implementation, gguf-py. Versions used: gguf 0.19.0,
# numpy 2.4.6, safetensors 0.8.0, transformers 5.24.0, torch 2.13.0+cpu.
#
#   types.gguf                 written by gguf.GGUFWriter (v3, general.alignment 64): metadata of every value
#                              type (arrays of strings, typed arrays, nested arrays) and one tensor per ggml
#                              type the Swift reader dequantizes. F32/F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 are
#                              quantized by gguf.quants.quantize from random normals; gguf-py cannot quantize
#                              Q2_K..Q6_K and Q8_K, so those hold random block bytes whose scale fields are set
#                              to finite f16 (f32 for Q8_K) values. Also a 3-D, a 1-D and an IQ4_NL tensor
#                              (a type the Swift side refuses to dequantize).
#   types.json                 the metadata, tensor infos and data offset as gguf.GGUFReader reads them back.
#   types_expected.safetensors every tensor dequantized by gguf.quants.dequantize (Q8_K, which gguf-py does
#                              not implement, by numpy as ggml's dequantize_row_q8_K does: y = d * q in f32).
#   smollm2.json               from models/SmolLM2-135M-Instruct.Q4_1.gguf (make models): all metadata (long
#                              arrays as count, samples and sums), the 272 tensor infos, sums and samples of
#                              dequantized tensors (gguf.quants.dequantize), and samples of q_proj/k_proj/v_proj
#                              as transformers loads them from the GGUF (it undoes llama.cpp's q/k permutation).
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from safetensors.numpy import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "gguf")
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def jsonable(v):
    """Metadata values for JSON: uint64/int64 as decimal strings (JSON numbers lose them), floats exact."""
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return float(v)
    return v


def field_json(f, long_arrays=False):
    types = [V(t).name for t in f.types]
    value = f.contents()
    if long_arrays and isinstance(value, list) and len(value) > 16:
        n = len(value)
        idx = sorted(set([0, 1, 2, n - 2, n - 1] + list(range(0, n, 997))))
        out = {"types": types, "count": n, "samples": {str(i): jsonable(value[i]) for i in idx}}
        if isinstance(value[0], str):
            out["utf8_bytes"] = sum(len(s.encode()) for s in value)
        else:
            out["sum"] = str(int(sum(int(x) for x in value)))
        return out
    return {"types": types, "value": jsonable(value)}


def set_f16(blocks, offset, rng, scale):
    d = (rng.standard_normal(blocks.shape[0]) * scale).astype(np.float16)
    blocks[:, offset:offset + 2] = d.view(np.uint8).reshape(-1, 2)


def types_fixture():
    rng = np.random.default_rng(20240229)
    path = os.path.join(OUT, "types.gguf")
    w = gguf.GGUFWriter(path, arch="rpotest")
    w.add_custom_alignment(64)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.1)
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -2**62 - 3)
    w.add_float64("t.f64", 1.0 / 3.0)
    w.add_bool("t.true", True)
    w.add_bool("t.false", False)
    w.add_string("t.string", "h\u00e9llo \U0001F642 \"q\"\n")
    w.add_array("t.strings", ["a", "", "\u00fc", "<|im_start|>", "\u0120t"])
    w.add_key_value("t.u16s", [1, 2, 65535], V.ARRAY, sub_type=V.UINT16)
    w.add_key_value("t.i64s", [-1, 2**40], V.ARRAY, sub_type=V.INT64)
    w.add_key_value("t.u8s", [0, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_array("t.f32s", [0.5, -1.25, 3.0e-8])
    w.add_key_value("t.f64s", [0.1, -2.0], V.ARRAY, sub_type=V.FLOAT64)
    w.add_array("t.i32s", [3, -4, 5])
    w.add_array("t.bools", [True, False, True])
    nested = {"t.nested": [[1, 2], [3], [4, 5, 6]], "t.nested_strings": [["a"], ["b", "c"]]}
    for k, v in nested.items():
        w.add_array(k, v)

    expected = {}

    def add(name, data, qtype):
        if qtype in (T.F32, T.F16):
            w.add_tensor(name, data)
            expected[name] = data.astype(np.float32)
        else:
            w.add_tensor(name, data, raw_dtype=qtype)
            if qtype == T.Q8_K:
                d = data[:, :].reshape(-1, 292)[:, :4].copy().view(np.float32)
                q = data.reshape(-1, 292)[:, 4:260].copy().view(np.int8).astype(np.float32)
                expected[name] = (q * d).reshape(data.shape[0], -1)
            elif qtype != T.IQ4_NL:
                expected[name] = gguf.quants.dequantize(data, qtype)

    x = rng.standard_normal((2, 64)).astype(np.float32)
    add("f32", x, T.F32)
    add("f16", rng.standard_normal((3, 32)).astype(np.float16), T.F16)
    add("bf16", gguf.quants.quantize(rng.standard_normal((2, 48)).astype(np.float32), T.BF16), T.BF16)
    for qt in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        data = (rng.standard_normal((3, 256)) * rng.uniform(0.01, 2.0, (3, 1))).astype(np.float32)
        add(qt.name.lower(), gguf.quants.quantize(data, qt), qt)
    # K-quants: random block bytes (2 rows of 2 blocks), scale fields made finite.
    scale_fields = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
    for qt in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K):
        _, ts = gguf.GGML_QUANT_SIZES[qt]
        blocks = rng.integers(0, 256, (4, ts), dtype=np.uint8)
        if qt == T.Q8_K:
            blocks[:, 0:4] = (rng.standard_normal(4) * 0.01).astype(np.float32).view(np.uint8).reshape(-1, 4)
        else:
            for off in scale_fields[qt]:
                set_f16(blocks, off, rng, 0.02)
        add(qt.name.lower(), blocks.reshape(2, 2 * ts), qt)
    add("q8_0_3d", gguf.quants.quantize(rng.standard_normal((2, 3, 64)).astype(np.float32), T.Q8_0), T.Q8_0)
    add("vector", rng.standard_normal(32).astype(np.float32), T.F32)
    add("iq4_nl", rng.integers(0, 256, (1, 18), dtype=np.uint8), T.IQ4_NL)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    r = gguf.GGUFReader(path)
    meta = {k: field_json(f) for k, f in r.fields.items() if not k.startswith("GGUF.")}
    # GGUFReader.contents() flattens nested arrays: check it against what was written, and record the
    # nesting as written.
    for k, v in nested.items():
        assert meta[k]["value"] == jsonable([x for inner in v for x in inner]), k
        meta[k]["value"] = jsonable(v)
    tensors = [{"name": t.name, "type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
                "offset": int(t.data_offset) - int(r.data_offset), "bytes": int(t.n_bytes)} for t in r.tensors]
    for t in r.tensors:
        if t.name in expected:
            got = gguf.quants.dequantize(t.data, t.tensor_type) if t.tensor_type != T.Q8_K else None
            if got is not None:
                assert np.array_equal(got.view(np.uint32), expected[t.name].view(np.uint32)), t.name
    with open(os.path.join(OUT, "types.json"), "w") as fh:
        json.dump({"version": 3, "alignment": int(r.alignment), "data_offset": int(r.data_offset), "metadata": meta,
                   "metadata_keys": [k for k in r.fields if not k.startswith("GGUF.")], "tensors": tensors},
                  fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    save_file({k: np.ascontiguousarray(v) for k, v in expected.items()},
              os.path.join(OUT, "types_expected.safetensors"))


def samples(a, n=48):
    flat = a.reshape(-1)
    idx = sorted(set([0, flat.size - 1] + [(k * 1000003) % flat.size for k in range(n)]))
    return {str(i): float(flat[i]) for i in idx}


def row_weighted(a):
    # Sensitive to row order: sum over rows of (row + 1) * row sum, in float64.
    a = np.asarray(a, dtype=np.float64)
    a = a.reshape(a.shape[0], -1)
    return float(((np.arange(a.shape[0]) + 1) * a.sum(axis=1)).sum())


def smollm2_fixture():
    if not os.path.exists(MODEL):
        sys.exit(f"{MODEL} is missing: run `make models`")
    r = gguf.GGUFReader(MODEL)
    meta = {k: field_json(f, long_arrays=True) for k, f in r.fields.items() if not k.startswith("GGUF.")}
    tensors = [[t.name, t.tensor_type.name, [int(d) for d in t.shape], int(t.data_offset) - int(r.data_offset)]
               for t in r.tensors]
    byname = {t.name: t for t in r.tensors}
    checks = {}
    for name in ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.29.attn_output.weight",
                 "blk.0.attn_norm.weight", "output_norm.weight"]:
        t = byname[name]
        a = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        checks[name] = {"shape": list(a.shape), "sum": float(a.astype(np.float64).sum()),
                        "sumsq": float((a.astype(np.float64) ** 2).sum()), "row_weighted": row_weighted(a),
                        "samples": samples(a)}

    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(MODEL), gguf_file=os.path.basename(MODEL),
                                                 dtype=torch.float32)
    sd = model.state_dict()
    hf = {}
    for layer in (0, 29):
        for proj in ("q_proj", "k_proj", "v_proj"):
            key = f"model.layers.{layer}.self_attn.{proj}.weight"
            a = sd[key].numpy()
            hf[key] = {"shape": list(a.shape), "sum": float(a.astype(np.float64).sum()),
                       "row_weighted": row_weighted(a), "samples": samples(a, 96)}
    with open(os.path.join(OUT, "smollm2.json"), "w") as fh:
        json.dump({"file_bytes": os.path.getsize(MODEL), "version": 3, "alignment": int(r.alignment),
                   "data_offset": int(r.data_offset), "metadata_keys": [k for k in r.fields if not k.startswith("GGUF.")],
                   "metadata": meta, "tensors": tensors, "dequantized": checks, "transformers": hf},
                  fh, indent=None, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    types_fixture()
    smollm2_fixture()
