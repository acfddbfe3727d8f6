#!/usr/bin/env python3
"""Tokenizer-export fixtures: rpo's exported Hugging Face tokenizer files and SmolLM2 checkpoint, checked with
HF tokenizers and transformers, for Tests/Fixtures/tokexport.

Reference stack (the versions this was run with):
    tokenizers 0.23.3, transformers 5.24.0, gguf 0.19.0, torch 2.13.0+cpu, numpy 2.4.6, Python 3.11.7.
Needs the release build of the tools (`swift build -c release -Xswiftc -enable-testing`): rpo-convert writes
the exports (Tokenizer.save / CausalLM.save), rpo-tokenize --raw / --decode gives rpo's own ids and texts.

What is checked (the script stops at the first failed check; nothing is written then):
 1. Exports of GGUF tokenizers: models/SmolLM2-135M-Instruct.Q4_1.gguf (gpt2, pre smollm),
    Tests/Fixtures/tokenizers/ggml-vocab-llama-spm.gguf.zst (llama SPM), and three small vocabulary-only
    GGUFs written here (gpt2 with pre gpt2, llama-bpe, qwen2; see make_mini_ggufs). For each, on the
    tokenizer fixtures' 2,775 texts plus llama.cpp's 46 test inputs: the ids of HF tokenizers
    (Tokenizer.from_file) and of transformers (AutoTokenizer.from_pretrained) on rpo's export, with and
    without special tokens, equal rpo's ids on the GGUF; their decodes (keeping / skipping special tokens)
    of those ids equal rpo's. For SmolLM2 and llama SPM the exported vocabulary and merges also equal those
    transformers derives from the GGUF itself.
 2. Round trips of tokenizers read from tokenizer.json / vocab.json + merges.txt (the tokenizer fixtures
    gpt2, smollm2, llama-spm, qwen2 and models/all-MiniLM-L6-v2): the same comparisons against rpo on the
    source, and rpo on the source against the tokenizer fixtures' expected HF ids (llama.cpp's for qwen2).
    The pruned llama-bpe fixture is one tokenizer.json cannot express (REFUSED): rpo-convert must fail,
    naming the token.
 3. SmolLM2's chat template: transformers' apply_chat_template renders conversations identically from the
    export and from the GGUF.
 4. SmolLM2 checkpoint: `rpo-convert` of the GGUF (CausalLM.load + save) loads in transformers with
    AutoModelForCausalLM and AutoTokenizer; the chat prompts tokenize as from the GGUF and greedy generation
    gives the same tokens as transformers on the GGUF.
 5. A tiny llama GGUF model written here (random F32 weights, the gpt2-mini tokenizer; make_tiny_model) as
    rpo-convert writes it: transformers' logits and greedy tokens from rpo's directory equal transformers'
    from the GGUF; every file's sha256 is recorded, so the Swift tests check the whole directory bytes.

Outputs under Tests/Fixtures/tokexport/:
    verified.json            every verdict, the sha256 of each exported file (the Swift tests re-export and
                             compare bytes), greedy tokens, the mini GGUFs' llama.cpp vectors in their ids
    gpt2-mini.gguf.zst, llama-bpe-mini.gguf.zst, qwen2-mini.gguf.zst, tiny-llama.gguf.zst

Usage: python3 scripts/make_tokexport_fixtures.py [--bin .build/release]
"""
import argparse, hashlib, importlib.util, json, os, shutil, subprocess, sys, tempfile

import gguf
import numpy
import tokenizers
import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("tokfix", os.path.join(ROOT, "scripts/make_tokenizer_fixtures.py"))
tokfix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tokfix)

TOKFIX = os.path.join(ROOT, "Tests/Fixtures/tokenizers")
SMOLLM = os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf")
MINILM = os.path.join(ROOT, "models/all-MiniLM-L6-v2")
FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
CHECKPOINT_FILES = ["config.json", "generation_config.json"] + FILES

# Conversations for the chat template (with and without a system turn, multi-turn) and the generation prompts
# (no digits: transformers' GGUF tokenizer lacks SmolLM2's digit split, so prompts with digits would not
# tokenize identically to begin with).
CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."}],
    [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello. How can I help?"},
     {"role": "user", "content": "Tell me a joke about cats."}],
]
PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Write one sentence about the sea."}],
    [{"role": "user", "content": "How do I boil an egg?"}],
]
MAX_NEW_TOKENS = 24
# Round trips rpo must refuse: the pruned llama-bpe tokenizer.json gives "<|endoftext|>" the id 128256 after a
# 991-token vocabulary with gaps; rpo's loader keeps that id, HF tokenizers renumbers it 991 when reading.
REFUSED = {"llama-bpe": "the added token \"<|endoftext|>\" has id 128256, but HF tokenizers would give it id 991"}


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def zstd_d(src, dst):
    subprocess.run(["zstd", "-d", "-q", "-f", src, "-o", dst], check=True)


class Rpo:
    def __init__(self, bindir, work):
        self.bin, self.work = bindir, work

    def convert(self, src, out, tokenizer_only):
        shutil.rmtree(out, ignore_errors=True)
        args = [os.path.join(self.bin, "rpo-convert"), src, "-o", out, "-q"]
        subprocess.run(args + (["--tokenizer-only"] if tokenizer_only else []), check=True)

    def _run(self, args, records, field):
        inp, out = os.path.join(self.work, "in.jsonl"), os.path.join(self.work, "out.jsonl")
        with open(inp, "w") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        subprocess.run([os.path.join(self.bin, "rpo-tokenize")] + args + ["--no-compress", "-q", "-o", out, inp], check=True)
        return [json.loads(l)[field] for l in open(out)]

    def ids(self, tok, texts, special):
        return self._run(["--raw", "--tokenizer", tok] + ([] if special else ["--no-special-tokens"]),
                         [{"text": t} for t in texts], "text_ids")

    def decode(self, tok, idss, skip):
        return self._run(["--decode", "--tokenizer", tok] + (["--no-special-tokens"] if skip else []),
                         [{"text_ids": i} for i in idss], "text")


def first_diffs(name, what, texts, got, want):
    bad = [(i, texts[i][:50], g[:12] if isinstance(g, list) else g[:60], w[:12] if isinstance(w, list) else w[:60])
           for i, (g, w) in enumerate(zip(got, want)) if g != w]
    if bad:
        sys.exit(f"{name}: {what}: {len(bad)} of {len(texts)} differ, e.g. {bad[:3]}")
    return len(texts)


def check_export(rpo, name, source, export, texts):
    """rpo on `source` vs HF tokenizers and transformers on rpo's export of it: ids with and without special
    tokens, decodes keeping and skipping special tokens. Returns the verdict record."""
    ours = rpo.ids(source, texts, True)
    ours_plain = rpo.ids(source, texts, False)
    ours_dec = rpo.decode(source, ours, False)
    ours_dec_skip = rpo.decode(source, ours, True)
    tk = Tokenizer.from_file(os.path.join(export, "tokenizer.json"))
    tf = AutoTokenizer.from_pretrained(export)
    v = {"texts": len(texts), "transformers_class": type(tf).__name__}
    v["tokenizers_ids"] = first_diffs(name, "tokenizers ids", texts, [e.ids for e in tk.encode_batch(texts)], ours)
    v["tokenizers_ids_no_special"] = first_diffs(name, "tokenizers ids (no special)", texts,
                                                 [e.ids for e in tk.encode_batch(texts, add_special_tokens=False)], ours_plain)
    v["tokenizers_decode"] = first_diffs(name, "tokenizers decode", texts, tk.decode_batch(ours, skip_special_tokens=False), ours_dec)
    v["tokenizers_decode_skip"] = first_diffs(name, "tokenizers decode (skip)", texts, tk.decode_batch(ours, skip_special_tokens=True), ours_dec_skip)
    v["transformers_ids"] = first_diffs(name, "transformers ids", texts, [tf(t)["input_ids"] for t in texts], ours)
    v["transformers_ids_no_special"] = first_diffs(name, "transformers ids (no special)", texts,
                                                   [tf.encode(t, add_special_tokens=False) for t in texts], ours_plain)
    v["transformers_decode"] = first_diffs(name, "transformers decode", texts, [tf.decode(i) for i in ours], ours_dec)
    v["transformers_decode_skip"] = first_diffs(name, "transformers decode (skip)", texts,
                                                [tf.decode(i, skip_special_tokens=True) for i in ours], ours_dec_skip)
    v["sha256"] = {f: sha256(os.path.join(export, f)) for f in FILES}
    print(f"{name}: {len(texts)} texts identical through tokenizers and transformers ({type(tf).__name__})", file=sys.stderr)
    return v, ours


def same_model_as_transformers_gguf(export, gguf_path):
    """The exported vocabulary and merges equal those transformers builds from the GGUF."""
    d = tempfile.mkdtemp()
    AutoTokenizer.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path)).save_pretrained(d)
    a = json.load(open(os.path.join(export, "tokenizer.json")))["model"]
    b = json.load(open(os.path.join(d, "tokenizer.json")))["model"]
    shutil.rmtree(d)
    norm = lambda ms: [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in ms]
    assert a["vocab"] == b["vocab"], "vocabulary differs from transformers' GGUF conversion"
    assert norm(a["merges"]) == norm(b["merges"]), "merges differ from transformers' GGUF conversion"
    return True


def make_mini_ggufs(work, out, inputs, vectors):
    """Vocabulary-only GGUFs for the byte-level pre-tokenizers that have no small real GGUF: gpt2 (GPT-2's
    vocab.json + merges.txt), llama-bpe and qwen2 (the tokenizer fixtures' pruned tokenizer.json, which
    transformers wrote from llama.cpp's vocab GGUFs), each pruned to what llama.cpp's test inputs reach and
    renumbered densely (ids in file order). Added tokens become control (special) or user-defined tokens.
    add_bos / add_eos cover the template forms: gpt2 none, llama-bpe BOS (as Llama 3), qwen2 EOS.
    Returns {name: (path, llama.cpp ids of the inputs in the new numbering)}."""
    # GPT-2: tokenizer.json as transformers writes it from vocab.json + merges.txt, pruned like the others.
    g = os.path.join(work, "gpt2-src")
    os.makedirs(g)
    for f in ["vocab.json", "merges.txt"]:
        zstd_d(os.path.join(TOKFIX, "gpt2", f + ".zst"), os.path.join(g, f))
    for f in ["tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(os.path.join(TOKFIX, "gpt2", f), g)
    AutoTokenizer.from_pretrained(g).save_pretrained(os.path.join(work, "gpt2-tj"))
    tokfix.prune(os.path.join(work, "gpt2-tj/tokenizer.json"), inputs, os.path.join(work, "gpt2-pruned.json"))
    sources = {
        "gpt2": (os.path.join(work, "gpt2-pruned.json"), "gpt2", "gpt2", "gpt-2", 1024, False, False),
        "llama-bpe": (os.path.join(TOKFIX, "llama-bpe/tokenizer.json.zst"), "llama", "llama-bpe", "llama-bpe", 8192, True, False),
        "qwen2": (os.path.join(TOKFIX, "qwen2/tokenizer.json.zst"), "qwen2", "qwen2", "qwen2", 32768, False, True),
    }
    result = {}
    for name, (src, arch, pre, vec, ctx, add_bos, add_eos) in sources.items():
        if src.endswith(".zst"):
            zstd_d(src, os.path.join(work, name + ".json"))
            src = os.path.join(work, name + ".json")
        d = json.load(open(src))
        vocab = d["model"]["vocab"]
        for a in d["added_tokens"]:
            vocab.setdefault(a["content"], a["id"])
        old = sorted(set(vocab.values()))
        new_id = {o: n for n, o in enumerate(old)}
        by_old = {}
        for t, i in vocab.items():
            assert i not in by_old, f"{name}: id {i} twice"
            by_old[i] = t
        tokens = [by_old[o] for o in old]
        added = {new_id[a["id"]]: a for a in d["added_tokens"]}
        types = [(3 if added[i]["special"] else 4) if i in added else 1 for i in range(len(tokens))]
        merges = [" ".join(m) if isinstance(m, list) else m for m in d["model"]["merges"]]
        special = [i for i in range(len(tokens)) if types[i] == 3]
        if name == "gpt2":
            bos = eos = tokens.index("<|endoftext|>")
        elif name == "llama-bpe":
            bos, eos = tokens.index("<|begin_of_text|>"), tokens.index("<|end_of_text|>")
        else:
            bos, eos = None, tokens.index("<|endoftext|>")
        path = os.path.join(out, f"{name}-mini.gguf")
        w = gguf.GGUFWriter(path, arch)
        w.add_context_length(ctx)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        if bos is not None:
            w.add_bos_token_id(bos)
        w.add_eos_token_id(eos)
        w.add_add_bos_token(add_bos)
        w.add_add_eos_token(add_eos)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        ids = [[new_id[i] for i in row] for row in vectors[vec]]
        result[name] = (path, ids, len(special))
    return result


def make_tiny_model(path, mini_path):
    """A llama GGUF with the gpt2-mini tokenizer's metadata and random F32 weights (numpy seed 0): 2 layers,
    hidden 16, 2 heads of 8 (1 KV head), MLP 32, tied embeddings, context 64."""
    r = gguf.GGUFReader(mini_path)
    def strings(k):
        f = r.fields[k]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    def scalar(k):
        f = r.fields[k]
        return int(f.parts[f.data[0]][0])
    tokens, merges = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    V, C, L, H, KV, F = len(tokens), 16, 2, 2, 1, 32
    rng = numpy.random.default_rng(0)
    w = gguf.GGUFWriter(path, "llama")
    w.add_context_length(64)
    w.add_embedding_length(C)
    w.add_block_count(L)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_rope_dimension_count(C // H)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(V)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(scalar("tokenizer.ggml.bos_token_id"))
    w.add_eos_token_id(scalar("tokenizer.ggml.eos_token_id"))
    w.add_add_bos_token(False)
    t = lambda *shape: (rng.standard_normal(shape) * 0.5).astype(numpy.float32)
    w.add_tensor("token_embd.weight", t(V, C))
    for l in range(L):
        w.add_tensor(f"blk.{l}.attn_norm.weight", (1 + 0.1 * rng.standard_normal(C)).astype(numpy.float32))
        w.add_tensor(f"blk.{l}.attn_q.weight", t(C, C))
        w.add_tensor(f"blk.{l}.attn_k.weight", t(KV * C // H, C))
        w.add_tensor(f"blk.{l}.attn_v.weight", t(KV * C // H, C))
        w.add_tensor(f"blk.{l}.attn_output.weight", t(C, C))
        w.add_tensor(f"blk.{l}.ffn_norm.weight", (1 + 0.1 * rng.standard_normal(C)).astype(numpy.float32))
        w.add_tensor(f"blk.{l}.ffn_gate.weight", t(F, C))
        w.add_tensor(f"blk.{l}.ffn_up.weight", t(F, C))
        w.add_tensor(f"blk.{l}.ffn_down.weight", t(C, F))
    w.add_tensor("output_norm.weight", numpy.ones(C, dtype=numpy.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def check_tiny_model(rpo, work, out, mini_path):
    path = os.path.join(work, "tiny-llama.gguf")
    make_tiny_model(path, mini_path)
    ckpt = os.path.join(work, "tiny-checkpoint")
    rpo.convert(path, ckpt, tokenizer_only=False)
    m_c = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32)
    m_g = AutoModelForCausalLM.from_pretrained(work, gguf_file="tiny-llama.gguf", dtype=torch.float32)
    tok_c = AutoTokenizer.from_pretrained(ckpt)
    texts = ["Hello world", "don't stop", "<|endoftext|>the end"]
    ours = rpo.ids(path, texts, True)
    assert [tok_c(t)["input_ids"] for t in texts] == ours, "tiny checkpoint tokenizer"
    diff, runs = 0.0, []
    with torch.no_grad():
        for ids in ours:
            x = torch.tensor([ids])
            diff = max(diff, (m_c(x).logits - m_g(x).logits).abs().max().item())
            gc = m_c.generate(x, max_new_tokens=8, do_sample=False)[0, len(ids):].tolist()
            gg = m_g.generate(x, max_new_tokens=8, do_sample=False)[0, len(ids):].tolist()
            assert gc == gg, (gc, gg)
            runs.append(gc)
    assert diff < 1e-5, diff
    subprocess.run(["zstd", "-19", "-q", "-f", path, "-o", os.path.join(out, "tiny-llama.gguf.zst")], check=True)
    print(f"tiny checkpoint: logits within {diff:.2e} of transformers on the GGUF, greedy tokens identical", file=sys.stderr)
    return {"gguf_sha256": sha256(path), "files": sorted(os.listdir(ckpt)),
            "sha256": {f: sha256(os.path.join(ckpt, f)) for f in sorted(os.listdir(ckpt))},
            "texts": texts, "ids": ours, "max_abs_logit_diff": diff, "greedy_tokens": runs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release"))
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests/Fixtures/tokexport"))
    a = ap.parse_args()
    versions = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__, "gguf": "0.19.0",
                "torch": torch.__version__, "numpy": numpy.__version__, "python": sys.version.split()[0]}
    print(versions, file=sys.stderr)
    os.chdir(ROOT)
    work = tempfile.mkdtemp()
    rpo = Rpo(a.bin, work)
    os.makedirs(a.out, exist_ok=True)
    vec = json.load(open(os.path.join(TOKFIX, "llamacpp-vectors.json")))
    texts = tokfix.hh_texts(ROOT) + tokfix.alpaca_texts(ROOT) + tokfix.EDGE_CASES + vec["inputs"]
    record = {"versions": versions, "texts": len(texts), "gguf": {}, "roundtrip": {}}

    # 1. GGUF tokenizers.
    minis = make_mini_ggufs(work, work, vec["inputs"], vec)
    spm = os.path.join(work, "ggml-vocab-llama-spm.gguf")
    zstd_d(os.path.join(TOKFIX, "ggml-vocab-llama-spm.gguf.zst"), spm)
    ggufs = {"smollm2": SMOLLM, "llama-spm": spm}
    ggufs.update({n + "-mini": p for n, (p, _, _) in minis.items()})
    for name, path in ggufs.items():
        export = os.path.join(work, "export", name)
        rpo.convert(path, export, tokenizer_only=True)
        v, _ = check_export(rpo, name, path, export, texts)
        if name in ("smollm2", "llama-spm"):
            v["same_vocab_and_merges_as_transformers_gguf"] = same_model_as_transformers_gguf(export, path)
        if name.endswith("-mini"):
            p, ids, nspecial = minis[name[:-5]]
            got = rpo.ids(path, vec["inputs"], False)
            first_diffs(name, "llama.cpp vectors", vec["inputs"], got, ids)
            v["llamacpp_vectors"] = ids
            v["gguf_sha256"] = sha256(p)
            subprocess.run(["zstd", "-19", "-q", "-f", p, "-o", os.path.join(a.out, os.path.basename(p) + ".zst")], check=True)
        record["gguf"][name] = v

    # 2. Round trips of tokenizer.json / vocab.json + merges.txt tokenizers.
    expected = {"gpt2": "gpt2", "smollm2": "smollm2", "llama-spm": "llama-spm", "minilm": "minilm"}
    for name in ["gpt2", "smollm2", "llama-spm", "llama-bpe", "qwen2", "minilm"]:
        refused = name in REFUSED
        if name == "minilm":
            src = MINILM
        else:
            src = os.path.join(work, "src", name)
            os.makedirs(src)
            for f in os.listdir(os.path.join(TOKFIX, name)):
                if f.endswith(".zst"):
                    zstd_d(os.path.join(TOKFIX, name, f), os.path.join(src, f[:-4]))
                else:
                    shutil.copy(os.path.join(TOKFIX, name, f), src)
        export = os.path.join(work, "export", "rt-" + name)
        if refused:
            # rpo refuses to write it; HF tokenizers reads the source itself differently from rpo.
            p = subprocess.run([os.path.join(a.bin, "rpo-convert"), "--tokenizer-only", src, "-o", export],
                               capture_output=True, text=True)
            assert p.returncode == 1 and REFUSED[name] in p.stderr, (p.returncode, p.stderr)
            tk = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
            hf_id = tk.token_to_id("<|endoftext|>")
            ours = rpo.ids(src, ["<|endoftext|>"], False)[0]
            assert ours != [hf_id], (ours, hf_id)
            record["roundtrip"][name] = {"refused": p.stderr.strip(), "rpo_id": ours, "hf_tokenizers_id": hf_id}
            print(f"roundtrip {name}: refused as expected ({p.stderr.strip()})", file=sys.stderr)
            continue
        rpo.convert(src, export, tokenizer_only=True)
        v, ours = check_export(rpo, "roundtrip " + name, src, export, texts)
        n = len(texts) - len(vec["inputs"])
        if name in expected:
            want = [json.loads(l)["ids"] for l in subprocess.run(
                ["zstd", "-dc", os.path.join(TOKFIX, "expected", expected[name] + ".jsonl.zst")],
                check=True, capture_output=True).stdout.decode().split("\n") if l]
            v["rpo_source_equals_expected"] = first_diffs(name, "rpo vs expected", texts[:n], ours[:n], want)
        else:
            got = rpo.ids(src, vec["inputs"], False)
            v["rpo_source_equals_llamacpp"] = first_diffs(name, "rpo vs llama.cpp", vec["inputs"], got, vec[name])
        record["roundtrip"][name] = v

    # 3. SmolLM2's chat template, from the export and from the GGUF.
    gdir, gfile = os.path.dirname(SMOLLM), os.path.basename(SMOLLM)
    tf_gguf = AutoTokenizer.from_pretrained(gdir, gguf_file=gfile)
    tf_exp = AutoTokenizer.from_pretrained(os.path.join(work, "export", "smollm2"))
    renders = 0
    for conv in CONVERSATIONS:
        for gen in (False, True):
            r1 = tf_exp.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
            r2 = tf_gguf.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
            assert r1 == r2, (conv, gen, r1, r2)
            renders += 1
    record["chat_template"] = {"renderings": renders, "identical": renders}
    print(f"chat template: {renders} renderings identical", file=sys.stderr)

    # 4. The SmolLM2 checkpoint rpo writes, in transformers, against transformers on the GGUF.
    ckpt = os.path.join(work, "checkpoint")
    rpo.convert(SMOLLM, ckpt, tokenizer_only=False)
    tok_c = AutoTokenizer.from_pretrained(ckpt)
    model_c = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32)
    model_g = AutoModelForCausalLM.from_pretrained(gdir, gguf_file=gfile, dtype=torch.float32)
    gen_c, gen_g = model_c.generation_config, model_g.generation_config
    for k in ["bos_token_id", "eos_token_id", "pad_token_id"]:
        assert getattr(gen_c, k) == getattr(gen_g, k), (k, getattr(gen_c, k), getattr(gen_g, k))
    runs = []
    for msgs in PROMPTS:
        ids_c = tok_c.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=False)
        ids_g = tf_gguf.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=False)
        assert ids_c == ids_g, (msgs, ids_c, ids_g)
        with torch.no_grad():
            out_c = model_c.generate(torch.tensor([ids_c]), max_new_tokens=MAX_NEW_TOKENS, do_sample=False)[0, len(ids_c):].tolist()
            out_g = model_g.generate(torch.tensor([ids_g]), max_new_tokens=MAX_NEW_TOKENS, do_sample=False)[0, len(ids_g):].tolist()
        assert out_c == out_g, (msgs, out_c, out_g)
        runs.append({"prompt_ids": ids_c, "greedy_tokens": out_c, "text": tok_c.decode(out_c, skip_special_tokens=True)})
        print(f"checkpoint: {msgs[0]['content']!r} -> {runs[-1]['text']!r} (identical to the GGUF)", file=sys.stderr)
    record["checkpoint"] = {
        "files": sorted(os.listdir(ckpt)),
        "sha256": {f: sha256(os.path.join(ckpt, f)) for f in CHECKPOINT_FILES},
        "transformers_tokenizer_class": type(tok_c).__name__,
        "generation_config": {k: getattr(gen_c, k) for k in ["bos_token_id", "eos_token_id", "pad_token_id"]},
        "max_new_tokens": MAX_NEW_TOKENS, "generations": runs, "identical_to_transformers_gguf": len(runs),
    }
    record["tiny_checkpoint"] = check_tiny_model(rpo, work, a.out, minis["gpt2"][0])
    json.dump(record, open(os.path.join(a.out, "verified.json"), "w"), ensure_ascii=False, indent=1)
    shutil.rmtree(work)
    print("wrote", os.path.join(a.out, "verified.json"), file=sys.stderr)


if __name__ == "__main__":
    main()
