#!/usr/bin/env python3
"""Reference fixtures for the causal LMs (Tests/Fixtures/lm/), made with PyTorch autograd and transformers.

Versions used to make the committed files: torch 2.13.0+cpu, transformers 5.24.0, safetensors 0.8.0,
gguf 0.19.0, numpy 2.4.6 (Python 3.11).

For each tiny random architecture (2 layers, seeded) it writes a Hugging Face directory
Tests/Fixtures/lm/<name>/ (config.json + model.safetensors, float32, as `save_pretrained` writes them) and
  ref.json          the batch (input ids, label starts), coefficients c_n, per-sequence log-probs S_n
                    (docs/method.md §3) and the loss L = sum_n c_n * S_n, in float64
  ref.safetensors   logits.<n> [L_n, V] per sequence and grad.<hf name> = dL/dparam for every parameter
The reference runs the saved float32 weights in float64, one sequence at a time (no padding), so the
difference to rpo is rpo's own float32 rounding.

  python3 scripts/make_lm_fixtures.py tiny            # the tiny models above
  python3 scripts/make_lm_fixtures.py smollm          # SmolLM2-135M GGUF log-probs on 64 HH pairs
  python3 scripts/make_lm_fixtures.py check-saved     # transformers loads the checkpoints rpo wrote
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "lm")

# (name, model_type, config kwargs). Widths are small but every head dim is even and > 2 so RoPE's
# rotate_half and NeoX's partial rotary both have several pairs.
TINY = [
    ("gpt2", "gpt2", dict(vocab_size=96, n_positions=32, n_embd=32, n_layer=2, n_head=4,
                          activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)),
    ("neox", "gpt_neox", dict(vocab_size=96, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=96, rotary_pct=0.25, rotary_emb_base=10000,
                              hidden_act="gelu", use_parallel_residual=True, tie_word_embeddings=False,
                              max_position_embeddings=64)),
    ("neox-sequential", "gpt_neox", dict(vocab_size=96, hidden_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, intermediate_size=64, rotary_pct=0.5,
                                         hidden_act="gelu_new", use_parallel_residual=False,
                                         tie_word_embeddings=False, max_position_embeddings=64)),
    ("llama-gqa-tied", "llama", dict(vocab_size=96, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                                     num_attention_heads=6, num_key_value_heads=2, rms_norm_eps=1e-5,
                                     rope_theta=100000.0, tie_word_embeddings=True,
                                     max_position_embeddings=64)),
    ("mistral-untied", "mistral", dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-6,
                                       sliding_window=None, tie_word_embeddings=False,
                                       max_position_embeddings=64)),
    ("qwen2-bias", "qwen2", dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
                                 rope_theta=1000000.0, tie_word_embeddings=False, max_position_embeddings=64)),
]

# The batch: different lengths and label starts, including label start 0 (token 0 is never scored: it has
# no predicting position) and label start == length (nothing scored, S = 0).
LENGTHS = [13, 7, 4, 5]
LABEL_STARTS = [6, 1, 0, 5]


def config_for(model_type, kw):
    from transformers import AutoConfig
    return AutoConfig.for_model(model_type, **kw)


def seq_logprob(logits, ids, label_start):
    """docs/method.md §3 for one unpadded sequence: position t predicts token t+1, tokens >= label_start
    (and >= 1) are scored; the sum is the sequence log-probability."""
    lp = torch.log_softmax(logits[:-1], dim=-1)
    tok = lp.gather(1, ids[1:, None])[:, 0]
    mask = torch.arange(1, len(ids)) >= label_start
    return (tok * mask).sum()


def make_tiny():
    from transformers import AutoModelForCausalLM
    for idx, (name, model_type, kw) in enumerate(TINY):
        torch.manual_seed(1000 + idx)
        cfg = config_for(model_type, kw)
        cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = None
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").float().eval()
        # Default inits leave biases and norm weights at 0/1; randomise them so a swapped or missing
        # bias or norm weight cannot pass.
        with torch.no_grad():
            for n, p in model.named_parameters():
                if p.ndim == 1:
                    p.copy_(torch.randn_like(p) * 0.1 + (1.0 if "norm" in n or "ln_" in n else 0.0))
                else:
                    p.copy_(torch.randn_like(p) * 0.08)
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        model.save_pretrained(d)
        for extra in ("generation_config.json",):
            if os.path.exists(os.path.join(d, extra)):
                os.remove(os.path.join(d, extra))

        ref = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
        ref = ref.double().eval()
        g = torch.Generator().manual_seed(7 + idx)
        seqs = [torch.randint(0, cfg.vocab_size, (n,), generator=g) for n in LENGTHS]
        coef = (torch.rand(len(seqs), generator=g, dtype=torch.float64) * 2 - 1)
        tensors, logprobs = {}, []
        loss = torch.zeros((), dtype=torch.float64)
        for n, (ids, ls) in enumerate(zip(seqs, LABEL_STARTS)):
            logits = ref(input_ids=ids[None]).logits[0]
            s = seq_logprob(logits, ids, ls)
            logprobs.append(s.item())
            loss = loss + coef[n] * s
            tensors[f"logits.{n}"] = logits.detach().float().contiguous()
        loss.backward()
        # Gradients are stored under the checkpoint's tensor names: transformers 5 calls GPT-NeoX's output
        # layer `lm_head` in the module tree but saves (and loads) it as `embed_out`.
        from safetensors import safe_open
        saved = set(safe_open(os.path.join(d, "model.safetensors"), "pt").keys())
        names = set()
        for pn, p in ref.named_parameters():
            key = "embed_out.weight" if pn == "lm_head.weight" and "embed_out.weight" in saved else pn
            tensors[f"grad.{key}"] = p.grad.detach().float().contiguous()
            names.add(key)
        save_file(tensors, os.path.join(d, "ref.safetensors"))
        with open(os.path.join(d, "ref.json"), "w") as f:
            json.dump({"input_ids": [s.tolist() for s in seqs], "label_starts": LABEL_STARTS,
                       "coefficients": coef.tolist(), "logprobs": logprobs, "loss": loss.item(),
                       "parameters": sorted(names)}, f, indent=1)
        print(name, "logprobs", [round(x, 4) for x in logprobs], file=sys.stderr)


# ---------------------------------------------------------------------------------------------------
# SmolLM2-135M-Instruct (GGUF Q4_1) on real HH-RLHF pairs, formatted as docs/method.md §11.2 / §12.

GGUF_DIR = os.path.join(ROOT, "models")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
HH = os.path.join(ROOT, "data", "hh-rlhf", "harmless-base", "test.jsonl.gz")
H, A = "\n<|user|>\n", "\n<|assistant|>\n"


def hh_format(prompt):
    import re
    out = []
    for chunk in re.split(r"\s*(Human:|Assistant:)\s+", prompt):
        if chunk == "Human:":
            out.append(H)
        elif chunk == "Assistant:":
            out.append(A)
        elif chunk:
            out.append(chunk)
    return "".join(out)


def tokenize_element(tok, prompt, generation, max_length=512, max_prompt_length=256):
    """docs/method.md §12 (keep_end truncation, decode -> re-encode, " " + eos appended)."""
    p = tok.encode(prompt)
    gen = tok.encode(generation)
    if p and p[-1] == tok.eos_token_id:
        p = p[:-1]
    if gen and gen[0] == tok.bos_token_id:
        gen = gen[1:]
    if gen and gen[-1] == tok.eos_token_id:
        gen = gen[:-1]
    if len(p) + len(gen) > max_length and len(p) > max_prompt_length:
        p = p[-max_prompt_length:]
    if len(p) + len(gen) > max_length:
        gen = gen[:max_length - len(p)]
    prompt_text = tok.decode(p, skip_special_tokens=True)
    gen_text = tok.decode(gen, skip_special_tokens=True) + " " + tok.eos_token
    prompt_ids = tok(prompt_text)["input_ids"]
    combined = tok(prompt_text + gen_text)["input_ids"]
    return combined, len(prompt_ids)


def make_smollm():
    import gzip
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE, dtype=torch.float32).eval()
    rows = [json.loads(l) for l in gzip.open(HH, "rt")]
    # 64 real pairs, kept short so the Swift test fits its time budget: the first rows (file order)
    # whose prompt and both responses are together at most 96 tokens per sequence.
    pairs = []
    for i, r in enumerate(rows):
        ch = r["chosen"]
        k = ch.rfind("\n\nAssistant: ") + len("\n\nAssistant: ")
        prompt, chosen, rejected = ch[:k], ch[k:], r["rejected"][k:]
        if not r["rejected"].startswith(prompt):
            continue
        fp = hh_format(prompt)
        c_ids, c_ls = tokenize_element(tok, fp, chosen)
        r_ids, r_ls = tokenize_element(tok, fp, rejected)
        if max(len(c_ids), len(r_ids)) > 96 or min(len(c_ids) - c_ls, len(r_ids) - r_ls) < 1:
            continue
        pairs.append({"row": i, "chosen_input_ids": c_ids, "chosen_label_start": c_ls,
                      "rejected_input_ids": r_ids, "rejected_label_start": r_ls})
        if len(pairs) == 64:
            break
    with torch.no_grad():
        for p in pairs:
            for side in ("chosen", "rejected"):
                ids = torch.tensor(p[f"{side}_input_ids"])
                logits = model(input_ids=ids[None]).logits[0].double()
                p[f"{side}_logprob"] = seq_logprob(logits, ids, p[f"{side}_label_start"]).item()
        # logits of the first chosen sequence's last 4 positions, first 64 vocabulary entries
        ids = torch.tensor(pairs[0]["chosen_input_ids"])
        logits = model(input_ids=ids[None]).logits[0]
    d = os.path.join(OUT, "smollm2")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "hh-logprobs.json"), "w") as f:
        json.dump({"model": GGUF_FILE, "torch": torch.__version__,
                   "first_logits": logits[-4:, :64].tolist(), "pairs": pairs}, f)
    n = sum(len(p["chosen_input_ids"]) + len(p["rejected_input_ids"]) for p in pairs)
    print(f"smollm2: {len(pairs)} pairs, {n} tokens", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------
# Checkpoints written by rpo (Tests/Fixtures/lm/saved/<name>/, produced by the Swift test LMSaveTests
# with RPO_WRITE_LM_FIXTURES=1) must load in transformers unchanged and give the original logits.

def check_saved():
    from transformers import AutoModelForCausalLM
    saved = os.path.join(OUT, "saved")
    report = {}
    for name, _, _ in TINY:
        d = os.path.join(saved, name)
        if not os.path.isdir(d):
            print(f"check-saved: {d} missing (run the Swift test with RPO_WRITE_LM_FIXTURES=1)", file=sys.stderr)
            sys.exit(1)
        orig = AutoModelForCausalLM.from_pretrained(os.path.join(OUT, name), dtype=torch.float32).eval()
        mine = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        ids = torch.tensor([json.load(open(os.path.join(OUT, name, "ref.json")))["input_ids"][0]])
        with torch.no_grad():
            a, b = orig(input_ids=ids).logits, mine(input_ids=ids).logits
        diff = (a - b).abs().max().item()
        report[name] = diff
        print(f"check-saved {name}: max |logit diff| {diff:.3g}", file=sys.stderr)
        assert diff == 0.0, name
    # SmolLM2 loaded by rpo from the GGUF and saved as a HF directory (SmolLM2Tests with
    # RPO_WRITE_LM_FIXTURES=1 writes it to /tmp/rpo-lm-smollm2-saved; 540 MB, not committed): transformers
    # loads it and gives the logits of its own GGUF load (same dequantized weights; fp32 rounding only).
    d = "/tmp/rpo-lm-smollm2-saved"
    if not os.path.isdir(d):
        print(f"check-saved: {d} missing (run SmolLM2Tests with RPO_WRITE_LM_FIXTURES=1)", file=sys.stderr)
        sys.exit(1)
    mine = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    ref = AutoModelForCausalLM.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE, dtype=torch.float32).eval()
    pairs = json.load(open(os.path.join(OUT, "smollm2", "hh-logprobs.json")))["pairs"]
    ids = torch.tensor([pairs[0]["chosen_input_ids"]])
    with torch.no_grad():
        diff = (mine(input_ids=ids).logits - ref(input_ids=ids).logits).abs().max().item()
    same = all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), ref.state_dict().values()))
    print(f"check-saved smollm2 (from GGUF): max |logit diff| {diff:.3g}, identical weights {same}", file=sys.stderr)
    assert same and diff < 1e-3
    report["smollm2-from-gguf"] = diff
    with open(os.path.join(saved, "check.json"), "w") as f:
        json.dump({"transformers": __import__("transformers").__version__, "max_abs_logit_diff": report}, f,
                  indent=1)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    {"tiny": make_tiny, "smollm": make_smollm, "check-saved": check_saved}[what]()
