#!/usr/bin/env python3
"""Tokenizer fixtures: expected ids and decodes from Hugging Face tokenizers, for Tests/Fixtures/tokenizers.

Reference stack (pinned; the versions this was run with):
    tokenizers 0.23.3, transformers 5.24.0, gguf 0.19.0, Python 3.11.
Sources (see Tests/Fixtures/tokenizers/SOURCE.md for hashes and licences):
    --gpt2-dir      openai-whisper==20230124 sdist, whisper/assets/gpt2 (vocab.json, merges.txt, configs)
    --llamacpp-dir  llama-cpp-python==0.3.36 sdist, vendor/llama.cpp/models (vocab GGUFs, .inp/.out vectors)
    --smollm-gguf   models/SmolLM2-135M-Instruct.Q4_1.gguf (make models)
    --minilm-dir    models/all-MiniLM-L6-v2
Texts: data/hh-rlhf harmless-base test rows 0..499 (prompt through the last "\\n\\nAssistant:", chosen and
rejected responses), the 805 AlpacaEval instructions, the first 400 text_davinci_003 outputs, and the
hand-made edge cases in EDGE_CASES. The Swift test builds the same list (TokenizerFixtures.swift).

Outputs under Tests/Fixtures/tokenizers/:
    gpt2/ (vocab.json.zst, merges.txt.zst, tokenizer_config.json, special_tokens_map.json)
    smollm2/ (tokenizer.json.zst as transformers writes it from the GGUF, tokenizer_config.json, chat_template.jinja)
    llama-spm/ (tokenizer.json.zst as transformers writes it from ggml-vocab-llama-spm.gguf, tokenizer_config.json)
    ggml-vocab-llama-spm.gguf.zst
    llama-bpe/, qwen2/ (tokenizer.json.zst from the llama.cpp vocab GGUFs, pruned to the tokens and merges
        the llama.cpp test inputs can reach; llama-bpe with ignore_merges true as Meta's tokenizer.json has)
    llamacpp-vectors.json (the shared .inp texts and the .out ids of gpt-2, llama-spm, llama-bpe, qwen2)
    expected/<name>.jsonl.zst: one line per text: {"ids": [...]} plus "decoded" / "decoded_skip" when the
        decode (skip_special_tokens False / True) differs from the text / from "decoded".
"""
import argparse, gzip, json, os, shutil, subprocess, sys, tempfile

import tokenizers
import transformers
from tokenizers import Tokenizer

EDGE_CASES = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\r\n", " \n ", "\t\n", "a  b", "a\t\tb", "a \t b",
    "Hello world", " Hello world", "Hello world ", "Hello  world  ", "  leading and trailing  ",
    "x   \n\n  y", "\n\n\n   x", "    def f(x):\n        return x * 2\n", "line1\r\nline2\rline3",
    "123", "1234567", "3.14159", "1,000,000", "a1b22c333d4444", " 42 ", "٣٤٥ ٦", "²³¹ ½ ¾", "Ⅻ ⅷ", "12abc 1a2",
    "emoji 🦙🤗👍🏽 👨‍👩‍👧", "🦙.cpp", "CJK 你好世界，日本語のテキスト 한국어 텍스트", "中文没有空格的句子。",
    "accents café naïve Ångström résumé", "combining e\u0301 a\u0300", "ﬁ ligature ＦＵＬＬＷＩＤＴＨ ①②",
    "Σίσυφος ΣΊΣΥΦΟΣ ὀδυσσεύς", "İstanbul straße ǅ", "control \u0000\u0001\u0007 bell", "zero\u200bwidth \ufeffbom",
    "\u00a0nbsp\u00a0 \u3000ideographic\u2028sep\u0085nel", "soft\u00adhyphen", "private \ue000 use",
    "don't I'm we'll they've she'd it's", "DON'T I'M WE'LL THEY'VE SHE'D IT'S", "'s 'S ''s 'ſ x's", "rock 'n' roll",
    "https://example.com/path?q=1&b=2#frag", "email@example.com", "C++ && x->y != z; // comment",
    "<|endoftext|>", "Hello<|endoftext|>world", " <|endoftext|> ", "[CLS] hi [SEP] [MASK] [UNK]",
    "<s>hi</s>", "<unk> <s> </s>", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "  <|im_start|>  x",
    "\u2581 already metaspace \u2581\u2581", "a" * 300, " " * 300, "ab" * 150 + " end", "Supercalifragilisticexpialidocious",
    "...!!!???", "—–-‐ “quotes” ‘single’ «guillemets»", "tab\tseparated\tvalues\n1\t2\t3",
]


def hh_texts(root):
    rows = [json.loads(l) for l in gzip.open(os.path.join(root, "data/hh-rlhf/harmless-base/test.jsonl.gz"), "rt")]
    out = []
    for r in rows[:500]:
        c, rj = r["chosen"], r["rejected"]
        k = c.rfind("\n\nAssistant:") + len("\n\nAssistant:")
        kr = rj.rfind("\n\nAssistant:") + len("\n\nAssistant:")
        out += [c[:k], c[k:], rj[kr:]]
    return out


def alpaca_texts(root):
    a = json.load(open(os.path.join(root, "data/alpaca_eval/example/outputs.json")))
    b = json.load(open(os.path.join(root, "data/alpaca_eval/results/text_davinci_003/model_outputs.json")))
    return [x["instruction"] for x in a] + [x["output"] for x in b[:400]]


def zst(src, dst):
    subprocess.run(["zstd", "-19", "--long=27", "-q", "-f", src, "-o", dst], check=True)


def write_expected(path, tok, texts, hf=None):
    """ids with add_special_tokens=True; decode of those ids with and without skipping special tokens."""
    tok.no_padding()
    tok.no_truncation()
    lines = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=True).ids
        if hf is not None:
            hids = hf(t)["input_ids"]
            assert hids == ids, f"transformers and tokenizers disagree on {t[:40]!r}: {hids[:10]} {ids[:10]}"
        rec = {"ids": ids}
        d = tok.decode(ids, skip_special_tokens=False)
        ds = tok.decode(ids, skip_special_tokens=True)
        if d != t:
            rec["decoded"] = d
        if ds != d:
            rec["decoded_skip"] = ds
        lines.append(json.dumps(rec, ensure_ascii=False))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    zst(tmp, path)
    os.remove(tmp)


def prune(tokjson, texts, out_path):
    """Keeps the vocabulary entries and merges the texts can reach: a merge can only fire if its result is a
    substring of a pre-tokenized piece, so dropping the others changes no encoding of these texts."""
    d = json.load(open(tokjson))
    tk = Tokenizer.from_file(tokjson)
    pieces = set()
    for t in texts:
        for p, _ in tk.pre_tokenizer.pre_tokenize_str(t):
            pieces.add(p)
    subs = set()
    for p in pieces:
        for i in range(len(p)):
            for j in range(i + 1, len(p) + 1):
                subs.add(p[i:j])
    vocab = d["model"]["vocab"]
    keep = {k: v for k, v in vocab.items() if len(k) == 1 or k in subs}
    for a in d["added_tokens"]:
        if a["content"] in vocab:
            keep[a["content"]] = vocab[a["content"]]
    merges = []
    for m in d["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ")
        if a + b in subs and a in keep and b in keep and a + b in keep:
            merges.append(m)
    d["model"]["vocab"] = keep
    d["model"]["merges"] = merges
    json.dump(d, open(out_path, "w"), ensure_ascii=False)
    full, small = Tokenizer.from_file(tokjson), Tokenizer.from_file(out_path)
    for t in texts:
        assert full.encode(t, add_special_tokens=False).ids == small.encode(t, add_special_tokens=False).ids, t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpt2-dir", required=True)
    ap.add_argument("--llamacpp-dir", required=True)
    ap.add_argument("--smollm-gguf", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--minilm-dir", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--out", default="Tests/Fixtures/tokenizers")
    a = ap.parse_args()
    print("tokenizers", tokenizers.__version__, "transformers", transformers.__version__, file=sys.stderr)
    root = os.getcwd()
    out = a.out
    os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    texts = hh_texts(root) + alpaca_texts(root) + EDGE_CASES
    json.dump(EDGE_CASES, open(os.path.join(out, "edge-cases.json"), "w"), ensure_ascii=False, indent=0)
    work = tempfile.mkdtemp()
    from transformers import AutoTokenizer

    # GPT-2: vocab.json + merges.txt as transformers loads them.
    g = os.path.join(out, "gpt2")
    os.makedirs(g, exist_ok=True)
    for f in ["vocab.json", "merges.txt"]:
        zst(os.path.join(a.gpt2_dir, f), os.path.join(g, f + ".zst"))
    for f in ["tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(os.path.join(a.gpt2_dir, f), g)
    hf = AutoTokenizer.from_pretrained(a.gpt2_dir)
    hf.save_pretrained(os.path.join(work, "gpt2"))
    write_expected(os.path.join(out, "expected/gpt2.jsonl.zst"),
                   Tokenizer.from_file(os.path.join(work, "gpt2/tokenizer.json")), texts, hf)

    # SmolLM2: the tokenizer.json transformers writes from the GGUF (plain ByteLevel, no digit split).
    s = os.path.join(out, "smollm2")
    os.makedirs(s, exist_ok=True)
    hf = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(a.smollm_gguf)), gguf_file=os.path.basename(a.smollm_gguf))
    hf.save_pretrained(os.path.join(work, "smollm2"))
    zst(os.path.join(work, "smollm2/tokenizer.json"), os.path.join(s, "tokenizer.json.zst"))
    for f in ["tokenizer_config.json", "chat_template.jinja"]:
        shutil.copy(os.path.join(work, "smollm2", f), s)
    st = Tokenizer.from_file(os.path.join(work, "smollm2/tokenizer.json"))
    write_expected(os.path.join(out, "expected/smollm2.jsonl.zst"), st, texts, hf)
    # The GGUF's own pre-tokenizer (llama.cpp `smollm`: \p{N} split, then the GPT-2 regex), which is what
    # the original HF SmolLM2 tokenizer.json has: Sequence[Digits(individual), ByteLevel].
    d = json.load(open(os.path.join(work, "smollm2/tokenizer.json")))
    d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, d["pre_tokenizer"]]}
    json.dump(d, open(os.path.join(work, "smollm2-digits.json"), "w"), ensure_ascii=False)
    write_expected(os.path.join(out, "expected/smollm2-gguf.jsonl.zst"),
                   Tokenizer.from_file(os.path.join(work, "smollm2-digits.json")), texts)

    # Llama-2 SentencePiece-BPE: tokenizer.json transformers writes from ggml-vocab-llama-spm.gguf
    # (Metaspace prepend_scheme first), and the legacy hub form (Prepend + Replace normalizer, unk <unk>)
    # that the Swift test derives from it the same way.
    L = os.path.join(out, "llama-spm")
    os.makedirs(L, exist_ok=True)
    gdir = os.path.join(work, "spm-gguf")
    os.makedirs(gdir)
    shutil.copy(os.path.join(a.llamacpp_dir, "ggml-vocab-llama-spm.gguf"), gdir)
    zst(os.path.join(gdir, "ggml-vocab-llama-spm.gguf"), os.path.join(out, "ggml-vocab-llama-spm.gguf.zst"))
    hf = AutoTokenizer.from_pretrained(gdir, gguf_file="ggml-vocab-llama-spm.gguf")
    hf.save_pretrained(os.path.join(work, "llama-spm"))
    zst(os.path.join(work, "llama-spm/tokenizer.json"), os.path.join(L, "tokenizer.json.zst"))
    shutil.copy(os.path.join(work, "llama-spm/tokenizer_config.json"), L)
    write_expected(os.path.join(out, "expected/llama-spm.jsonl.zst"),
                   Tokenizer.from_file(os.path.join(work, "llama-spm/tokenizer.json")), texts, hf)
    d = json.load(open(os.path.join(work, "llama-spm/tokenizer.json")))
    d["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
    d["pre_tokenizer"] = None
    d["model"]["unk_token"] = "<unk>"
    json.dump(d, open(os.path.join(work, "llama-legacy.json"), "w"), ensure_ascii=False)
    write_expected(os.path.join(out, "expected/llama-legacy.jsonl.zst"),
                   Tokenizer.from_file(os.path.join(work, "llama-legacy.json")), texts)

    # all-MiniLM-L6-v2 WordPiece (from models/, not copied); padding/truncation off.
    hf = AutoTokenizer.from_pretrained(a.minilm_dir)
    write_expected(os.path.join(out, "expected/minilm.jsonl.zst"),
                   Tokenizer.from_file(os.path.join(a.minilm_dir, "tokenizer.json")),
                   texts, lambda t: hf(t, padding=False, truncation=False))

    # llama.cpp vectors and the pruned Llama-3 / Qwen2 tokenizers.
    vec = {}
    inp = open(os.path.join(a.llamacpp_dir, "ggml-vocab-gpt-2.gguf.inp")).read().split("\n__ggml_vocab_test__\n")
    assert inp[-1] == ""  # the file ends with a separator
    inp = inp[:-1]
    vec["inputs"] = inp
    for n in ["gpt-2", "llama-spm", "llama-bpe", "qwen2"]:
        assert open(os.path.join(a.llamacpp_dir, f"ggml-vocab-{n}.gguf.inp")).read().split("\n__ggml_vocab_test__\n")[:-1] == inp
        outs = open(os.path.join(a.llamacpp_dir, f"ggml-vocab-{n}.gguf.out")).read().split("\n")
        vec[n] = [[int(x) for x in line.split()] for line in outs[:len(inp)]]
    json.dump(vec, open(os.path.join(out, "llamacpp-vectors.json"), "w"), ensure_ascii=False)
    for n in ["llama-bpe", "qwen2"]:
        gd = os.path.join(work, n + "-gguf")
        os.makedirs(gd)
        shutil.copy(os.path.join(a.llamacpp_dir, f"ggml-vocab-{n}.gguf"), gd)
        AutoTokenizer.from_pretrained(gd, gguf_file=f"ggml-vocab-{n}.gguf").save_pretrained(os.path.join(work, n))
        tj = os.path.join(work, n, "tokenizer.json")
        if n == "llama-bpe":
            d = json.load(open(tj))
            d["model"]["ignore_merges"] = True
            json.dump(d, open(tj, "w"), ensure_ascii=False)
        os.makedirs(os.path.join(out, n), exist_ok=True)
        prune(tj, inp, os.path.join(work, n + "-pruned.json"))
        zst(os.path.join(work, n + "-pruned.json"), os.path.join(out, n, "tokenizer.json.zst"))
        small = Tokenizer.from_file(os.path.join(work, n + "-pruned.json"))
        for t, ids in zip(inp, vec[n]):
            got = small.encode(t, add_special_tokens=False).ids
            assert got == ids, (n, t, got, ids)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
