#!/usr/bin/env python3
"""Fixture for rpo-judge's local judge (Tests/Fixtures/judging/local_smollm2.json): SmolLM2-135M-Instruct
(models/SmolLM2-135M-Instruct.Q4_1.gguf, `make models`) reading the official judge messages.

For a few comparisons (messages from the OFFICIAL compare.py templates, loaded as in make_judge_fixtures.py):
the chat text as transformers renders the model's own chat template (apply_chat_template, generation prompt),
the token ids of that text followed by the answer start "Response 1" / "Response 2" ("Summary ..."), and the
log-probabilities transformers' float32 forward gives the two labels at the position after the shared prefix;
and compare.py's token lengths len(tokenizer.encode(text)) of the samples' texts.
The local judge must reproduce the rendering byte for byte and the log-probabilities within float32 error.

Versions used: Python 3.11.7, torch 2.13.0+cpu, transformers 5.24.0, gguf 0.19.0.
Usage: python3 scripts/make_local_judge_fixtures.py [--compare-py PATH] [--models models]
"""
import argparse
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_judge_fixtures as official  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare-py")
    ap.add_argument("--models", default=os.path.join(official.ROOT, "models"))
    ap.add_argument("--out", default=os.path.join(official.ROOT, "Tests/Fixtures/judging/local_smollm2.json"))
    args = ap.parse_args()
    ns = official.module_from(official.load_official(args.compare_py))
    tok = AutoTokenizer.from_pretrained(args.models, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(args.models, gguf_file=GGUF, dtype=torch.float32)
    model.eval()

    samples = official.hh_rows([2, 9]) + [official.EDGE_SAMPLES[0]]
    cases = []
    for task, cls, seed in (("dialogue", ns["PromptTemplate"], 0), ("summarization", ns["SummarizationPromptTemplate"], 1)):
        t = cls(["policy", "chosen"], "12", seed, verbose=False)
        for s in samples:
            messages = t.format(s["prompt"], s)
            order = ["candidate" if m == "policy" else "baseline" for m in t.models]
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            word = "Response" if task == "dialogue" else "Summary"
            ids = [tok(text + word + " " + label, add_special_tokens=False).input_ids for label in "12"]
            k = 0
            while k < min(map(len, ids)) and ids[0][k] == ids[1][k]:
                k += 1
            assert len(ids[0]) == len(ids[1]) == k + 1, "each label must add one token"
            with torch.no_grad():
                logits = model(torch.tensor([ids[0][:k]])).logits[0, -1].double()
            lp = torch.log_softmax(logits, -1)
            top = torch.topk(lp, 5)
            cases.append({"id": s["id"], "task": task, "order": order, "messages": messages, "chat_text": text,
                          "answer_prefix": word, "prefix_ids": ids[0][:k], "label_ids": [ids[0][k], ids[1][k]],
                          "label_logprobs": [lp[ids[0][k]].item(), lp[ids[1][k]].item()],
                          "top_ids": top.indices.tolist(), "top_logprobs": top.values.tolist()})
    # compare.py's length measure, len(tokenizer.encode(text)) (special tokens added as the tokenizer does).
    lengths = [{"text": s[k], "tokens": len(tok.encode(s[k]))} for s in samples for k in ("chosen", "policy")]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"model": GGUF, "cases": cases, "lengths": lengths}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
