#!/usr/bin/env python3
"""PyTorch eager equivalent of `rpo-bench lm` (scripts/bench/20-lm.sh): HF transformers model of the same
shape, random weights, fp32, the official sequence log-prob (docs/method.md §3: full logits, log_softmax,
gather, masked sum), forward + backward of L = sum_n c_n S_n, or forward only under no_grad.
Versions: torch 2.13.0+cpu, transformers 5.24.0. Prints one JSON object like rpo-bench."""
import argparse
import json
import resource
import sys
import time

import torch

SHAPES = {
    "smollm2-135m": dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                         num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0,
                         tie_word_embeddings=True),
    "gpt2-124m": dict(model_type="gpt2", vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="smollm2-135m")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--forward-only", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-fraction", type=float, default=0.5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    from transformers import AutoConfig, AutoModelForCausalLM
    kw = dict(SHAPES[a.shape])
    cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
    model = AutoModelForCausalLM.from_config(cfg).float()
    model.eval()  # dropout off, as in RPO
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq))
    labels = ids.clone()
    labels[:, : int(a.seq * a.prompt_fraction)] = -100
    coef = torch.rand(a.batch) - 0.5

    def logps():
        logits = model(input_ids=ids).logits
        lab = labels[:, 1:].clone()
        lg = logits[:, :-1, :]
        mask = lab != -100
        lab[lab == -100] = 0
        tok = torch.gather(lg.log_softmax(-1), 2, lab.unsqueeze(2)).squeeze(2)
        return (tok * mask).sum(-1)

    def step():
        if a.forward_only:
            with torch.no_grad():
                logps()
        else:
            model.zero_grad(set_to_none=False)
            (logps() * coef).sum().backward()

    step()
    secs = cpu = float("inf")  # the fastest timed step, as rpo-bench reports
    for _ in range(a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        secs, cpu = min(secs, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    print(json.dumps({"impl": "pytorch", "shape": a.shape, "batch": a.batch, "seq": a.seq,
                      "mode": "forward" if a.forward_only else "train",
                      "tokens_per_s": round(a.batch * a.seq / secs, 1), "s_per_step": round(secs, 3), "cpu_s_per_step": round(cpu, 3),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    sys.exit(main())
