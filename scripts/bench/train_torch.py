#!/usr/bin/env python3
"""PyTorch eager equivalent of `rpo-bench train` (scripts/bench/25-train.sh): one optimizer step of the official
trainer (yinyueqin/Relative-Preference-Optimization@c1b5163, docs/method.md §5-§9) on a transformers model of the
same shape with random weights, fp32: the frozen reference's concatenated forward under no_grad (unless
--precomputed), the policy's concatenated forward (chosen and rejected of B pairs), get_batch_logps (full logits,
log_softmax, gather, masked sum), the DPO or RPO-paired loss, backward, clip_grad_norm_(10), RMSprop step, LambdaLR
warmup. RPO's contrast matrix is precomputed here as in rpo's pipeline (upstream re-encodes the prompts with the
sentence encoder every step). Prints one JSON object like rpo-bench.
Versions: torch 2.13.0+cpu, transformers 5.24.0."""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {
    "smollm2-135m": dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                         num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0,
                         tie_word_embeddings=True),
    "tiny": dict(model_type="llama", vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-5,
                 rope_theta=10000.0, tie_word_embeddings=False),
}


def get_batch_logps(logits, labels):
    labels = labels[:, 1:].clone()
    logits = logits[:, :-1, :]
    mask = labels != -100
    labels[labels == -100] = 0
    tok = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    return (tok * mask).sum(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="smollm2-135m")
    ap.add_argument("--loss", default="dpo", choices=["dpo", "rpo-paired"])
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precomputed", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    from transformers import AutoConfig, AutoModelForCausalLM
    kw = dict(SHAPES[a.shape])
    cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
    policy = AutoModelForCausalLM.from_config(cfg).float()
    policy.train()
    for m in policy.modules():  # dropout off, as upstream's disable_dropout
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    reference = None
    if not a.precomputed:
        reference = AutoModelForCausalLM.from_config(cfg).float().eval()
        reference.load_state_dict(policy.state_dict())
    B, T, P = a.pairs, a.seq, a.seq // 2
    g = torch.Generator().manual_seed(2)
    prompt = torch.randint(0, cfg.vocab_size, (B, P), generator=g)
    ids = torch.cat([torch.cat([prompt, torch.randint(0, cfg.vocab_size, (B, T - P), generator=g)], 1),
                     torch.cat([prompt, torch.randint(0, cfg.vocab_size, (B, T - P), generator=g)], 1)], 0)
    labels = ids.clone()
    labels[:, :P] = -100
    mask = torch.ones_like(ids)
    emb = torch.rand(B, 16, generator=g) - 0.5
    e = F.normalize(emb, p=2, dim=1)
    weights = F.softmax(-(1 - e @ e.t()) / 0.5, dim=1)
    if a.precomputed:
        with torch.no_grad():
            ref_logps = get_batch_logps(policy(input_ids=ids, attention_mask=mask).logits, labels)
    opt = torch.optim.RMSprop(policy.parameters(), lr=5e-7)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda k: min(1.0, (k + 1) / 151))
    beta = 0.1

    def step():
        if reference is not None:
            with torch.no_grad():
                rl = get_batch_logps(reference(input_ids=ids, attention_mask=mask).logits, labels)
        else:
            rl = ref_logps
        pl = get_batch_logps(policy(input_ids=ids, attention_mask=mask).logits, labels)
        pc, pr, rc, rr = pl[:B], pl[B:], rl[:B], rl[B:]
        if a.loss == "dpo":
            losses = -F.logsigmoid(beta * ((pc - pr) - (rc - rr)))
        else:
            logits = (pc - rc).view(-1, 1) - (pr - rr).view(1, -1)
            losses = -F.logsigmoid(beta * (logits * weights)).mean(-1)
        losses.mean().backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 10.0)
        opt.step()
        sched.step()
        opt.zero_grad()

    step()  # warm-up
    def cpu():
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime
    t0, c0 = time.perf_counter(), cpu()
    for _ in range(a.steps):
        step()
    secs = (time.perf_counter() - t0) / a.steps
    cpu_secs = (cpu() - c0) / a.steps
    print(json.dumps({"bench": "train", "impl": "pytorch", "shape": a.shape, "loss": a.loss, "pairs": B, "seq": T,
                      "reference": "precomputed" if a.precomputed else "model", "s_per_step": round(secs, 3), "cpu_s_per_step": round(cpu_secs, 3),
                      "tokens_per_s": round(2 * B * T / secs, 1),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    sys.exit(main())
