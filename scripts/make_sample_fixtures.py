#!/usr/bin/env python3
"""Reference fixtures for rpo-sample (Tests/Fixtures/sample/), made with transformers' generate and its
logits processors.

Versions used to make the committed files: torch 2.13.0+cpu, transformers 5.24.0, safetensors 0.8.0,
gguf 0.19.0, numpy 2.4.6 (Python 3.11).

  python3 scripts/make_sample_fixtures.py tiny        # greedy generate with a KV cache on the tiny models
  python3 scripts/make_sample_fixtures.py processors  # repetition penalty, temperature, top-k, top-p, min-p
  python3 scripts/make_sample_fixtures.py smollm      # SmolLM2-135M-Instruct GGUF: chat template, greedy ids
  python3 scripts/make_sample_fixtures.py tinychat    # a tiny chat model directory for the CLI tests
  python3 scripts/make_sample_fixtures.py all

tiny: for each tiny random model of Tests/Fixtures/lm/ (made by make_lm_fixtures.py), four prompts of
different lengths are completed greedily (12 new tokens, no EOS) by `generate` in float64, as one
left-padded float32 batch and one prompt at a time in float64 (both must agree, which the script asserts). Written:
  tiny.json              prompts, generated ids, the smallest top-1/top-2 logit margin along each path
  tiny.safetensors       logits.<model>.<b> [new tokens, V]: the raw logits of every generated position
processors: hand-made rows of logits (with ties and exact boundaries) through each processor alone and
through the chain generate builds for sampling (RepetitionPenalty, Temperature, TopK, TopP, MinP, in that
order, transformers' `_get_logits_processor`). Filtered entries are written as null (-inf).
smollm: the ChatML template as `apply_chat_template` renders it for several conversations, and greedy
decoding (up to 64 new tokens, `do_sample=False`, float32, one prompt at a time, ending at EOS) of the
first 20 AlpacaEval instructions as single user turns.
tinychat: Tests/Fixtures/sample/tiny-chat/, a complete HF model directory small enough for CLI tests: a
random 2-layer Llama over a 320-token byte-level BPE (trained here on AlpacaEval instructions) with
SmolLM2's chat template and a generation_config.json; tinychat.json holds transformers' greedy completions
(apply_chat_template, generate, decode) of three prompts.
"""
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "sample")
LM = os.path.join(ROOT, "Tests", "Fixtures", "lm")
TINY = ["gpt2", "neox", "neox-sequential", "llama-gqa-tied", "mistral-untied", "qwen2-bias"]
PROMPT_LENGTHS = [5, 1, 9, 3]
NEW_TOKENS = 12


def versions():
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__}


# ---------------------------------------------------------------------------------------------------

def make_tiny():
    from transformers import AutoModelForCausalLM, GenerationConfig
    out, tensors = {"versions": versions(), "new_tokens": NEW_TOKENS, "models": {}}, {}
    for idx, name in enumerate(TINY):
        model32 = AutoModelForCausalLM.from_pretrained(os.path.join(LM, name), dtype=torch.float32,
                                                       attn_implementation="eager").eval()
        model = AutoModelForCausalLM.from_pretrained(os.path.join(LM, name), dtype=torch.float32,
                                                     attn_implementation="eager").double().eval()
        V = model.config.vocab_size
        g = torch.Generator().manual_seed(300 + idx)
        prompts = [torch.randint(0, V, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]
        gc = GenerationConfig(do_sample=False, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                              eos_token_id=None, pad_token_id=0, use_cache=True)
        singles, margins = [], []
        with torch.no_grad():
            for b, p in enumerate(prompts):
                r = model.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                   generation_config=gc, output_logits=True, return_dict_in_generate=True)
                ids = r.sequences[0, len(p):].tolist()
                logits = torch.stack([x[0] for x in r.logits])  # [new, V]
                top2 = logits.topk(2, dim=-1).values
                margins.append((top2[:, 0] - top2[:, 1]).min().item())
                singles.append(ids)
                tensors[f"logits.{name}.{b}"] = logits.float().contiguous()
            # The same prompts as one left-padded batch (transformers derives positions from the mask), in
            # float32: transformers 5.24 turns left-padded float64 batches into NaN (its float32 mask minimum).
            L = max(PROMPT_LENGTHS)
            batch = torch.tensor([[0] * (L - len(p)) + p for p in prompts])
            mask = torch.tensor([[0] * (L - len(p)) + [1] * len(p) for p in prompts])
            rb = model32.generate(batch, attention_mask=mask, generation_config=gc)
            batched = rb[:, L:].tolist()
        assert batched == singles, f"{name}: batched and single greedy ids differ"
        out["models"][name] = {"prompts": prompts, "generated": singles, "min_margins": margins}
        print(f"tiny {name}: min top-2 margins {[f'{m:.2g}' for m in margins]}", file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tiny.json"), "w") as f:
        json.dump(out, f, indent=1)
    save_file(tensors, os.path.join(OUT, "tiny.safetensors"))


# ---------------------------------------------------------------------------------------------------

def f32(xs):
    """Values exactly representable in float32 (as Python floats)."""
    return [float(np.float32(x)) for x in xs]


def make_processors():
    from transformers.generation.logits_process import (
        LogitsProcessorList, MinPLogitsWarper, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
        TopKLogitsWarper, TopPLogitsWarper)
    rng = np.random.default_rng(5)
    rows = {
        "random": f32(rng.normal(0, 2, 40)),
        "peaked": f32(np.concatenate([[9.0, 7.5], rng.normal(0, 1, 30)])),
        # four equal logits: probabilities exactly 1/4, cumulative sums 0.25, 0.5, 0.75, 1 (exact)
        "flat4": [0.0, 0.0, 0.0, 0.0],
        # exact dyadic probabilities 1/2, 1/4, 1/8, 1/8 (logits are logs of them, rounded to float32)
        "dyadic": f32([math.log(0.125), math.log(0.5), math.log(0.125), math.log(0.25)]),
        # ties straddling every cut: [3, 3, 1, 1, 1, 0, 0, -2]
        "ties": [1.0, 3.0, 0.0, 1.0, -2.0, 3.0, 1.0, 0.0],
        "negative": f32([-1.5, -0.25, -3.0, -0.5, 0.75, -8.0]),
        "one": [2.5],
        "with-inf": [1.0, float("-inf"), 0.5, 2.0, float("-inf"), -1.0],
    }
    history = {"random": [3, 3, 7, 39, 0], "peaked": [0, 1, 1, 5], "flat4": [2], "dyadic": [1, 3],
               "ties": [1, 4, 6], "negative": [0, 1, 2, 4], "one": [0], "with-inf": [0, 1, 3]}
    settings = [
        ("repetition_penalty", [1.3, 0.8, 1.0]),
        ("temperature", [0.7, 1.3, 0.05]),
        ("top_k", [1, 2, 3, 5, 50]),
        ("top_p", [0.95, 0.9, 0.75, 0.5, 0.25, 0.625, 0.3, 0.01, 0.999, 1e-9]),
        ("min_p", [0.05, 0.1, 0.5, 0.25, 1.0, 0.0]),
    ]
    make = {"repetition_penalty": lambda v: RepetitionPenaltyLogitsProcessor(v),
            "temperature": lambda v: TemperatureLogitsWarper(v),
            "top_k": lambda v: TopKLogitsWarper(v), "top_p": lambda v: TopPLogitsWarper(v),
            "min_p": lambda v: MinPLogitsWarper(v)}
    chains = [
        {"repetition_penalty": 1.2, "temperature": 0.8, "top_k": 5, "top_p": 0.9, "min_p": 0.05},
        {"temperature": 1.0, "top_k": 50, "top_p": 0.95},
        {"temperature": 0.6, "top_p": 0.9},
        {"repetition_penalty": 1.5, "top_k": 3},
        {"temperature": 2.0, "top_p": 0.5, "min_p": 0.2},
        {"top_k": 2, "top_p": 0.75},
    ]

    def run(procs, name, ids):
        scores = torch.tensor([rows[name]], dtype=torch.float32)
        out = LogitsProcessorList(procs)(torch.tensor([ids]), scores)[0].tolist()
        return [None if x == float("-inf") else x for x in out]

    cases = []
    for name, logits in rows.items():
        for kind, values in settings:
            for v in values:
                if kind == "top_k" and v > len(logits) + 1:
                    continue
                cases.append({"row": name, "settings": {kind: v},
                              "expected": run([make[kind](v)], name, history[name])})
        for chain in chains:
            procs = [make[k](chain[k]) for k in ("repetition_penalty", "temperature", "top_k", "top_p", "min_p")
                     if k in chain]
            cases.append({"row": name, "settings": chain, "expected": run(procs, name, history[name])})
    # generate's own selection of processors for the chain (order and which are skipped)
    from transformers import GenerationConfig
    gc = GenerationConfig(do_sample=True, repetition_penalty=1.2, temperature=0.8, top_k=5, top_p=0.9, min_p=0.05)
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(os.path.join(LM, "llama-gqa-tied"))
    procs = m._get_logits_processor(generation_config=gc, input_ids_seq_length=3, encoder_input_ids=None,
                                    prefix_allowed_tokens_fn=None, logits_processor=None,
                                    model_kwargs={"attention_mask": torch.ones(1, 3, dtype=torch.long)})
    order = [type(p).__name__ for p in procs]
    rows_json = {k: [None if x == float("-inf") else x for x in v] for k, v in rows.items()}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "processors.json"), "w") as f:
        json.dump({"versions": versions(), "generate_order": order, "rows": rows_json, "history": history,
                   "cases": cases}, f, indent=None)
    print(f"processors: {len(cases)} cases; generate order {order}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------

GGUF_DIR = os.path.join(ROOT, "models")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALPACA = os.path.join(ROOT, "data", "alpaca_eval", "example", "outputs.json")
CONVERSATIONS = [
    ([{"role": "user", "content": "What is the capital of France?"}], True),
    ([{"role": "user", "content": "What is the capital of France?"}], False),
    ([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}], True),
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
      {"role": "user", "content": "Tell me a joke.\n\nA short one."}], True),
    ([{"role": "user", "content": "  spaces  and\ttabs \u00e9\u4e2d <|im_end|> "}], True),
    ([{"role": "system", "content": ""}, {"role": "user", "content": ""}], True),
]


def make_smollm():
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    tok = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE, dtype=torch.float32).eval()
    torch.set_num_threads(2)
    chat = []
    for messages, gen in CONVERSATIONS:
        text = tok.apply_chat_template(messages, add_generation_prompt=gen, tokenize=False)
        chat.append({"messages": messages, "add_generation_prompt": gen, "text": text,
                     "ids": tok(text, add_special_tokens=False)["input_ids"]})
    instructions = [x["instruction"] for x in json.load(open(ALPACA))[:20]]
    # Greedy with the model's EOS (<|im_end|>, 2) ending a sequence as usual: up to 64 new tokens.
    gc = GenerationConfig(do_sample=False, max_new_tokens=64, eos_token_id=tok.eos_token_id,
                          pad_token_id=tok.pad_token_id, use_cache=True)
    greedy = []
    with torch.no_grad():
        for ins in instructions:
            text = tok.apply_chat_template([{"role": "user", "content": ins}], add_generation_prompt=True,
                                           tokenize=False)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            r = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                               generation_config=gc, output_logits=True, return_dict_in_generate=True)
            new = r.sequences[0, len(ids):].tolist()
            eos = bool(new) and new[-1] == tok.eos_token_id
            if eos:
                new = new[:-1]  # rpo's generated ids end before the EOS that ended them
            logits = torch.stack([x[0] for x in r.logits])
            top2 = logits.topk(2, dim=-1).values
            margin = (top2[:, 0] - top2[:, 1]).min().item()
            greedy.append({"instruction": ins, "prompt": text, "prompt_ids": ids, "generated": new, "eos": eos,
                           "text": tok.decode(new, skip_special_tokens=False), "min_margin": margin})
            print(f"smollm: {len(ids)} prompt tokens, min margin {margin:.3g}: {tok.decode(new)[:60]!r}",
                  file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "smollm2.json"), "w") as f:
        json.dump({"versions": versions(), "model": GGUF_FILE, "chat_template": tok.chat_template,
                   "eos_token_id": tok.eos_token_id, "bos_token_id": tok.bos_token_id,
                   "chat": chat, "greedy": greedy}, f, indent=1)


def make_tinychat():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig,
                              PreTrainedTokenizerFast)
    d = os.path.join(OUT, "tiny-chat")
    os.makedirs(d, exist_ok=True)
    texts = [x["instruction"] for x in json.load(open(ALPACA))]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(texts, trainer)
    smol = json.load(open(os.path.join(OUT, "smollm2.json")))["chat_template"]
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   unk_token="<|endoftext|>", pad_token="<|im_end|>", chat_template=smol)
    fast.save_pretrained(d)
    torch.manual_seed(77)
    cfg = AutoConfig.for_model("llama", vocab_size=tk.get_vocab_size(), hidden_size=32, intermediate_size=64,
                               num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                               rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
                               max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").float().eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.1 if p.ndim == 1 else 0.3) + (1.0 if p.ndim == 1 else 0.0))
    model.save_pretrained(d)
    GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2, temperature=0.7, top_k=20,
                     do_sample=True).save_pretrained(d)
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    cases = []
    for prompt in ["Give three tips for staying healthy.", "Who is Larry Page?", "What breed dog is smallest?"]:
        text = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                       tokenize=False)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            r = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                               do_sample=False, max_new_tokens=10, output_logits=True,
                               return_dict_in_generate=True)
        new = r.sequences[0, len(ids):].tolist()
        logits = torch.stack([x[0] for x in r.logits])
        top2 = logits.topk(2, dim=-1).values
        full = tok.decode(ids + new, skip_special_tokens=True)
        policy = full[len(tok.decode(ids, skip_special_tokens=True)):]
        cases.append({"prompt": prompt, "text": text, "prompt_ids": ids, "generated": new, "policy": policy,
                      "min_margin": (top2[:, 0] - top2[:, 1]).min().item()})
        print(f"tinychat: {len(ids)} prompt tokens, {new}, margin {cases[-1]['min_margin']:.3g}", file=sys.stderr)
    with open(os.path.join(OUT, "tinychat.json"), "w") as f:
        json.dump({"versions": versions(), "cases": cases}, f, indent=1)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    jobs = {"tiny": [make_tiny], "processors": [make_processors], "smollm": [make_smollm],
            "tinychat": [make_tinychat], "all": [make_tiny, make_processors, make_smollm, make_tinychat]}[what]
    for job in jobs:
        job()
