#!/usr/bin/env python3
"""Sentence-encoder fixtures: sentence-transformers embeddings of real texts, for Tests/Fixtures/embed.

Reference stack (pinned; the versions this was run with):
    sentence-transformers 6.2.0, transformers 5.24.0, torch 2.13.0+cpu, tokenizers 0.23.3,
    safetensors 0.8.0, numpy 2.4.6, Python 3.11; the zstd command line tool.
Model: models/all-MiniLM-L6-v2 (make models; model.safetensors sha256 53aa5117...d9db).

Texts (in this order; the Swift tests read them from texts.jsonl.zst):
    hh          the first 600 distinct prompts of data/hh-rlhf/harmless-base/test.jsonl.gz formatted as the
                official RPO `hh` loader does (docs/method.md §11.2): the chosen transcript through its last
                "\\n\\nAssistant: ", re-split on Human:/Assistant: into "\\n<|user|>\\n" / "\\n<|assistant|>\\n"
                markers; about a tenth are longer than 256 word-pieces (truncated by the encoder)
    alpacaeval  the first 424 AlpacaEval instructions, formatted as the official `alpacaeval` loader does
                ("\\n<|user|>\\n" + instruction + "\\n<|assistant|>\\n")
    edge        EDGE_CASES below (empty, whitespace, accents, CJK, emoji, literal special tokens, > 512 pieces)

Outputs under Tests/Fixtures/embed/:
    texts.jsonl.zst         {"text", "source", "tokens"} per text; tokens = word-pieces the model reads
                            (with [CLS]/[SEP], after truncation at max_seq_length 256)
    embeddings.safetensors  "embeddings" F32 (texts, 384): SentenceTransformer(dir).encode(texts,
                            batch_size=32) (sorted by length, dynamically padded batches of 32)
    variants.safetensors    the first VARIANT_TEXTS texts of the edge and hh lists through other module
                            stacks (F32 (16, D) each): pooling modes cls, max, mean_sqrt_len_tokens,
                            weightedmean, lasttoken, and cls+max+mean concatenated (legacy boolean keys),
                            without Normalize; "dense": mean -> Dense(384 -> 64, tanh, seeded) -> Normalize;
                            "plain_hf": a plain Hugging Face directory (config.json, tokenizer files,
                            model.safetensors with "bert."-prefixed names), which sentence-transformers loads
                            as Transformer + mean pooling with max_seq_length 512
    variants.json           the variant texts, each variant's module list and pooling config as written
    dense/2_Dense/          the Dense module (config.json, model.safetensors) the tests assemble a model with
"""
import gzip, json, os, re, shutil, subprocess, sys, tempfile

import numpy as np
import torch
import safetensors
from safetensors.numpy import save_file
from safetensors.torch import load_file, save_file as save_torch
import sentence_transformers
import transformers
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models/all-MiniLM-L6-v2")
OUT = os.path.join(ROOT, "Tests/Fixtures/embed")
H, A = "\n<|user|>\n", "\n<|assistant|>\n"
VARIANT_TEXTS = 16

EDGE_CASES = [
    "", " ", "\n\t \n", "A man is eating food.", "A man is eating a piece of bread.",
    "The girl is carrying a baby.", "A man is riding a horse.",
    "accents café naïve Ångström RÉSUMÉ", "CJK 你好世界，日本語のテキスト 한국어 텍스트", "emoji 🦙🤗👍🏽 👨‍👩‍👧",
    "[CLS] literal [SEP] tokens [MASK] [UNK] [PAD]", "control \u0000\u0001\u0007 bell zero\u200bwidth",
    "a" * 300 + " unknown long word", "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    " ".join(["the quick brown fox jumps over the lazy dog"] * 70),  # ~630 word-pieces: > 512
    "x",
]


def fmt_hh(prompt):
    """docs/method.md §11.2 step 2: re.split on Human:/Assistant: with separators kept."""
    out = []
    for chunk in re.split(r"\s*(Human:|Assistant:)\s+", prompt):
        if chunk == "Human:":
            out.append(H)
        elif chunk == "Assistant:":
            out.append(A)
        elif chunk:
            out.append(chunk)
    return "".join(out)


def hh_prompts(n):
    rows = [json.loads(l) for l in gzip.open(os.path.join(ROOT, "data/hh-rlhf/harmless-base/test.jsonl.gz"), "rt")]
    seen, out = set(), []
    for r in rows:
        c = r["chosen"]
        p = fmt_hh(c[: c.rfind("\n\nAssistant: ") + len("\n\nAssistant: ")])
        if p not in seen:
            seen.add(p)
            out.append(p)
        if len(out) == n:
            break
    return out


def alpaca_prompts(n):
    items = json.load(open(os.path.join(ROOT, "data/alpaca_eval/example/outputs.json")))
    return [H + it["instruction"] + A for it in items[:n]]


def zstd_write(path, data):
    subprocess.run(["zstd", "-q", "-19", "-f", "-o", path], input=data, check=True)


def st_dir(tmp, name, pooling_config, dense=False, normalize=False):
    """A sentence-transformers directory sharing the model files, with its own module stack."""
    d = os.path.join(tmp, name)
    os.makedirs(os.path.join(d, "1_Pooling"))
    for f in os.listdir(MODEL):
        if os.path.isfile(os.path.join(MODEL, f)) and f != "modules.json":
            os.symlink(os.path.join(MODEL, f), os.path.join(d, f))
    json.dump(pooling_config, open(os.path.join(d, "1_Pooling/config.json"), "w"), indent=2)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if dense:
        shutil.copytree(os.path.join(OUT, "dense/2_Dense"), os.path.join(d, "2_Dense"))
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    if normalize:
        modules.append({"idx": len(modules), "name": str(len(modules)), "path": f"{len(modules)}_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    json.dump(modules, open(os.path.join(d, "modules.json"), "w"), indent=2)
    return d, modules


def main():
    torch.manual_seed(0)
    print(f"sentence-transformers {sentence_transformers.__version__}, transformers {transformers.__version__}, "
          f"torch {torch.__version__}, safetensors {safetensors.__version__}, numpy {np.__version__}", file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    texts = [(t, "hh") for t in hh_prompts(600)] + [(t, "alpacaeval") for t in alpaca_prompts(424)] + \
            [(t, "edge") for t in EDGE_CASES]
    model = SentenceTransformer(MODEL, device="cpu")
    assert model.max_seq_length == 256
    tok = model.tokenizer
    lengths = [len(ids) for ids in tok([t for t, _ in texts], truncation=True, max_length=256)["input_ids"]]
    emb = model.encode([t for t, _ in texts], batch_size=32, convert_to_numpy=True)
    assert emb.dtype == np.float32 and emb.shape == (len(texts), 384)
    lines = "".join(json.dumps({"text": t, "source": s, "tokens": n}, ensure_ascii=False) + "\n"
                    for (t, s), n in zip(texts, lengths))
    zstd_write(os.path.join(OUT, "texts.jsonl.zst"), lines.encode())
    save_file({"embeddings": emb}, os.path.join(OUT, "embeddings.safetensors"))
    print(f"{len(texts)} texts, {sum(n > 255 for n in lengths)} truncated at 256", file=sys.stderr)

    # Dense module: seeded weights, tanh (sentence-transformers' default activation).
    ddir = os.path.join(OUT, "dense/2_Dense")
    os.makedirs(ddir, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    w = (torch.rand(64, 384, generator=g) - 0.5) * 0.2
    b = (torch.rand(64, generator=g) - 0.5) * 0.2
    save_torch({"linear.weight": w.contiguous(), "linear.bias": b.contiguous()}, os.path.join(ddir, "model.safetensors"))
    json.dump({"in_features": 384, "out_features": 64, "bias": True,
               "activation_function": "torch.nn.modules.activation.Tanh"}, open(os.path.join(ddir, "config.json"), "w"))

    vtexts = EDGE_CASES[:VARIANT_TEXTS // 2] + [t for t, s in texts if s == "hh"][:VARIANT_TEXTS // 2]
    variants, meta = {}, {"texts": vtexts, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {m: {"embedding_dimension": 384, "pooling_mode": m}
                   for m in ["cls", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]}
        configs["cls_max_mean"] = {"word_embedding_dimension": 384, "pooling_mode_cls_token": True,
                                   "pooling_mode_max_tokens": True, "pooling_mode_mean_tokens": True,
                                   "pooling_mode_mean_sqrt_len_tokens": False}
        for name, cfg in configs.items():
            d, modules = st_dir(tmp, name, cfg)
            variants[name] = SentenceTransformer(d, device="cpu").encode(vtexts, batch_size=32)
            meta["variants"][name] = {"pooling": cfg, "modules": [m["type"].split(".")[-1] for m in modules]}
        d, modules = st_dir(tmp, "dense", {"embedding_dimension": 384, "pooling_mode": "mean"}, dense=True, normalize=True)
        variants["dense"] = SentenceTransformer(d, device="cpu").encode(vtexts, batch_size=32)
        meta["variants"]["dense"] = {"pooling": {"pooling_mode": "mean"}, "modules": [m["type"].split(".")[-1] for m in modules]}
        # A plain Hugging Face directory: weights under "bert.", no sentence-transformers files.
        pdir = os.path.join(tmp, "plain")
        os.makedirs(pdir)
        for f in ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]:
            shutil.copy(os.path.join(MODEL, f), pdir)
        tensors = load_file(os.path.join(MODEL, "model.safetensors"))
        save_torch({"bert." + k: v for k, v in tensors.items()}, os.path.join(pdir, "model.safetensors"))
        plain = SentenceTransformer(pdir, device="cpu")
        mods = [type(m).__name__ for m in plain]
        assert mods == ["Transformer", "Pooling"], mods
        assert plain[1].pooling_mode == "mean", plain[1].pooling_mode
        variants["plain_hf"] = plain.encode(vtexts, batch_size=32)
        meta["variants"]["plain_hf"] = {"pooling": {"pooling_mode": "mean"}, "modules": mods,
                                        "max_seq_length": plain.max_seq_length}
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in variants.items()},
              os.path.join(OUT, "variants.safetensors"))
    json.dump(meta, open(os.path.join(OUT, "variants.json"), "w"), indent=1, ensure_ascii=False)
    print("variants:", {k: v.shape for k, v in variants.items()}, file=sys.stderr)


if __name__ == "__main__":
    main()
