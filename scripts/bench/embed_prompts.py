#!/usr/bin/env python3
"""HH-RLHF prompts for the sentence-encoder benchmark (40-embed.sh), as JSON Lines {"prompt": ...} on stdout.

Every prefix of every harmless-base test transcript (chosen and rejected) that ends at an
"\\n\\nAssistant: " turn, formatted as the official RPO `hh` loader formats prompts (docs/method.md §11.2:
"\\n<|user|>\\n" / "\\n<|assistant|>\\n" markers), distinct, in file order: 5,527 prompts, repeated in the
same order up to --count. Python 3.11 standard library only.
"""
import argparse, gzip, json, os, re, sys

H, A = "\n<|user|>\n", "\n<|assistant|>\n"


def fmt(prompt):
    out = []
    for chunk in re.split(r"\s*(Human:|Assistant:)\s+", prompt):
        out.append(H if chunk == "Human:" else A if chunk == "Assistant:" else chunk)
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../data/hh-rlhf/harmless-base/test.jsonl.gz"))
    a = ap.parse_args()
    seen, prompts = set(), []
    for line in gzip.open(a.data, "rt"):
        r = json.loads(line)
        for t in (r["chosen"], r["rejected"]):
            i = 0
            while (j := t.find("\n\nAssistant: ", i)) >= 0:
                p = fmt(t[: j + len("\n\nAssistant: ")])
                if p not in seen:
                    seen.add(p)
                    prompts.append(p)
                i = j + 1
    out = sys.stdout
    for k in range(a.count):
        out.write(json.dumps({"prompt": prompts[k % len(prompts)]}) + "\n")


if __name__ == "__main__":
    main()
