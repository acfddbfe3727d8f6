#!/usr/bin/env python3
"""Split the bundled HH-RLHF harmless-base test file into train, validation and test prompts, deterministically.

data/hh-rlhf/harmless-base/test.jsonl.gz (2,312 pairs) -> data/hh-rlhf/split/{train,validation,test}.jsonl.gz
with 256 test pairs, 256 validation pairs (for choosing settings: never tune on test) and 1,800 train pairs,
and no prompt in two of them. Rows are grouped by their prompt formatted as the official `hh`
loader formats it (docs/method.md §11.2: the chosen transcript up to its last "\n\nAssistant: ", chat
markers, runs of spaces collapsed), so rows that the loader would merge stay on one side. Groups are
ordered by the sha256 of that prompt; the first groups make up exactly 256 test pairs (the same test split
as before the validation split existed), the next ones exactly 256 validation pairs. Each output
keeps the input's row order and bytes. Standard library only (Python 3.8+); gzip with mtime 0, so the
outputs are byte-identical on every run.
"""
import gzip, hashlib, json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
src = root / "data/hh-rlhf/harmless-base/test.jsonl.gz"
dst = root / "data/hh-rlhf/split"
TEST_PAIRS = 256
VALIDATION_PAIRS = 256


def formatted_prompt(chosen: str) -> str:
    key = "\n\nAssistant: "
    prompt = chosen[: chosen.rfind(key) + len(key)]
    parts = re.split(r"\s*(Human:|Assistant:)\s+", prompt)
    out = []
    for p in parts:
        if p == "Human:":
            out.append("\n<|user|>\n")
        elif p == "Assistant:":
            out.append("\n<|assistant|>\n")
        elif p:
            out.append(p)
    return re.sub(r"[ \t]{2,}", " ", "".join(out))


lines = gzip.open(src, "rb").read().splitlines(keepends=True)
groups = {}
for i, line in enumerate(lines):
    p = formatted_prompt(json.loads(line)["chosen"])
    groups.setdefault(p, []).append(i)
order = sorted(groups, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
test = set()
for p in order:
    if len(test) + len(groups[p]) > TEST_PAIRS:
        continue
    test.update(groups[p])
    if len(test) == TEST_PAIRS:
        break
assert len(test) == TEST_PAIRS
validation = set()
for p in order:
    if groups[p][0] in test or len(validation) + len(groups[p]) > VALIDATION_PAIRS:
        continue
    validation.update(groups[p])
    if len(validation) == VALIDATION_PAIRS:
        break
assert len(validation) == VALIDATION_PAIRS
dst.mkdir(parents=True, exist_ok=True)
for name, keep in (("train", lambda i: i not in test and i not in validation), ("validation", lambda i: i in validation),
                   ("test", lambda i: i in test)):
    rows = [l for i, l in enumerate(lines) if keep(i)]
    with open(dst / f"{name}.jsonl.gz", "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
        g.write(b"".join(rows))
    print(f"{name}: {len(rows)} pairs", file=sys.stderr)
