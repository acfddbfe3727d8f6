#!/usr/bin/env python3
"""sentence-transformers' side of 40-embed.sh: SentenceTransformer(model).encode(texts) on CPU, as the official
RPO trainer calls it (batch_size 32, convert_to_numpy), with torch limited to --threads threads. Prints one
JSON object like rpo-bench embed's. Versions: sentence-transformers 6.2.0, transformers 5.24.0,
torch 2.13.0+cpu."""
import argparse, json, resource, time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--field", default="prompt")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--limit", type=int)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    from sentence_transformers import SentenceTransformer
    texts = [json.loads(l)[a.field] for l in open(a.input)]
    if a.limit:
        texts = texts[: a.limit]
    model = SentenceTransformer(a.model, device="cpu")
    lengths = [len(x) for x in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]]
    model.encode(texts[:64], batch_size=a.batch_size)  # warm-up
    c0, t0 = time.process_time(), time.perf_counter()
    emb = model.encode(texts, batch_size=a.batch_size, convert_to_numpy=True)
    sec, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert emb.shape[0] == len(texts)
    print(json.dumps({"bench": "embed", "impl": "sentence-transformers", "threads": a.threads, "texts": len(texts),
                      "tokens": sum(lengths), "texts_per_s": round(len(texts) / sec, 2), "seconds": round(sec, 3),
                      "cpu_seconds": round(cpu, 3),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10}))


if __name__ == "__main__":
    main()
