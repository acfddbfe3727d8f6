#!/usr/bin/env python3
"""Batch-composition references for the rpo-pairs tests (Tests/Fixtures/pairs/), from the HH-RLHF data bundled in
data/hh-rlhf/harmless-base/test.jsonl.gz (2,312 rows).

1. A re-implementation of the official `get_hh` (yinyueqin/Relative-Preference-Optimization @ c1b5163,
   dataloader.py:189-262): prompt = the chosen transcript through its last "\\n\\nAssistant: ", re-formatted
   with the default markers, rows sharing a formatted prompt merged into one prompt with several pairs,
   sft_index 0. Written as `hh_examples.jsonl.gz`: one record per pair {id, prompt_id, dataset, split,
   sft_target}, prompts in first-seen order (prompt_id = that rank), sft_target on each prompt's first pair
   (whose chosen response is generations[sft_index = 0]). Token fields are not needed to form batches; the
   tests add marker token ids.
2. Re-implementations of the official loaders' batch formation (SFTDataLoader 603-649, SimpleKTODataLoader
   729-796, PairedPreferenceDataLoader 892-940; n_epochs, Python `random` seeded as DataLoader.__init__ does),
   run on those prompts, writing `hh_loaders.json`: per layout and batch size, the elements per epoch, the
   batches and dropped elements of every epoch, and the composition checks the official loaders satisfy
   (asserted here): every pair (item, prompt) at most once per epoch, full batches only, unpaired batches
   alternating chosen/rejected with batch/2 of each, SFT elements unique per epoch. Seeds are not comparable
   with rpo-pairs' RNG; the counts and invariants are.

Versions used to produce the committed fixture: Python 3.11.7 (standard library only).
Usage: python3 scripts/make_pairs_fixtures.py   (writes into Tests/Fixtures/pairs/)
"""
import gzip
import json
import os
import random
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
HUMAN, ASSISTANT = "\n<|user|>\n", "\n<|assistant|>\n"


def get_hh(rows):
    """prompt (formatted, the dict key) -> {"generations": [...], "pairs": [(i, j)], "sft_index": 0}"""
    data = {}
    for row in rows:
        term = "\n\nAssistant: "
        prompt = row["chosen"][:row["chosen"].rfind(term) + len(term)]
        chosen, rejected = row["chosen"][len(prompt):], row["rejected"][len(prompt):]
        chunks = []
        for chunk in re.split(r"\s*(Human:|Assistant:)\s+", prompt):
            if chunk.startswith("Human"):
                chunk = re.sub(r"\s*Human:\s*", HUMAN, chunk)
            elif chunk.startswith("Assistant"):
                chunk = re.sub(r"\s*Assistant:\s*", ASSISTANT, chunk)
            if chunk != "":
                chunks.append(chunk)
        key = "".join(chunks)
        ex = data.setdefault(key, {"generations": [], "pairs": [], "sft_index": 0})
        i = len(ex["generations"])
        ex["generations"] += [chosen, rejected]
        ex["pairs"].append((i, i + 1))
    return data


def sft_loader(prompts, batch_size, n_epochs):
    flat = list(range(len(prompts)))
    random.shuffle(flat)  # the prompt-list shuffle of __iter__
    epochs = []
    for _ in range(n_epochs):
        random.shuffle(flat)
        batches, batch = [], []
        for p in flat:
            batch.append(p)
            if len(batch) == batch_size:
                batches.append(batch)
                batch = []
        epochs.append((batches, len(batch)))
    return epochs


def paired_loader(prompts, data, batch_size, n_epochs):
    order = list(range(len(prompts)))
    random.shuffle(order)
    flat = [(p, k) for p in order for k in range(len(data[prompts[p]]["pairs"]))]
    epochs = []
    for _ in range(n_epochs):
        random.shuffle(flat)
        batches, batch = [], []
        for e in flat:
            batch.append(e)
            if len(batch) >= batch_size:
                batches.append(batch)
                batch = []
        epochs.append((batches, len(batch)))
    return epochs


def simple_kto_loader(prompts, data, batch_size, n_epochs):
    order = list(range(len(prompts)))
    random.shuffle(order)
    flat = []
    for p in order:
        for k in range(len(data[prompts[p]]["pairs"])):
            flat.append((p, k, "chosen"))
            flat.append((p, k, "rejected"))
    epochs = []
    for _ in range(n_epochs):
        random.shuffle(flat)
        batches, batch, cq, rq = [], [], [], []
        quota = batch_size // 2
        for e in flat:
            (cq if e[2] == "chosen" else rq).append(e)
            if len(cq) >= quota and len(rq) >= quota:
                while len(batch) < batch_size:
                    batch.append(cq.pop(0))
                    batch.append(rq.pop(0))
            if len(batch) >= batch_size:
                batches.append(batch)
                batch = []
        epochs.append((batches, len(cq) + len(rq) + len(batch)))
    return epochs


def summarize(layout, batch_size, epochs, elements):
    for batches, dropped in epochs:
        assert all(len(b) == batch_size for b in batches)
        used = [e for b in batches for e in b]
        assert len(set(used)) == len(used), "an element twice in one epoch"
        assert len(used) + dropped == elements
        if layout == "unpaired":
            for b in batches:
                assert [e[2] for e in b] == ["chosen", "rejected"] * (batch_size // 2)
    return {"layout": layout, "batch_size": batch_size, "epochs": len(epochs), "elements": elements,
            "batches_per_epoch": [len(b) for b, _ in epochs], "dropped_per_epoch": [d for _, d in epochs]}


def main():
    with gzip.open(os.path.join(ROOT, "data/hh-rlhf/harmless-base/test.jsonl.gz"), "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    data = get_hh(rows)
    prompts = list(data.keys())
    out_dir = os.path.join(ROOT, "Tests/Fixtures/pairs")
    os.makedirs(out_dir, exist_ok=True)
    n = 0
    with gzip.GzipFile(os.path.join(out_dir, "hh_examples.jsonl.gz"), "wb", mtime=0) as f:
        for p, key in enumerate(prompts):
            for k, _ in enumerate(data[key]["pairs"]):
                rec = {"id": n, "prompt_id": p, "dataset": "hh", "split": "test", "sft_target": k == 0}
                f.write((json.dumps(rec, separators=(",", ":")) + "\n").encode())
                n += 1
    n_pairs = n
    runs = []
    for bs in (64, 32, 8):
        random.seed(1)  # DataLoader.__init__: random.seed(seed)
        runs.append(summarize("sft", bs, sft_loader(prompts, bs, 2), len(prompts)))
        random.seed(1)
        runs.append(summarize("paired", bs, paired_loader(prompts, data, bs, 2), n_pairs))
        random.seed(1)
        runs.append(summarize("unpaired", bs, simple_kto_loader(prompts, data, bs, 2), 2 * n_pairs))
    info = {"generator": "scripts/make_pairs_fixtures.py", "python": sys.version.split()[0],
            "rows": len(rows), "prompts": len(prompts), "pairs": n_pairs,
            "prompts_with_several_pairs": sum(1 for k in prompts if len(data[k]["pairs"]) > 1), "runs": runs}
    with open(os.path.join(out_dir, "hh_loaders.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
