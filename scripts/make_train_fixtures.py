#!/usr/bin/env python3
"""Reference training runs for the Swift trainer tests (Tests/Fixtures/train/), from a PyTorch re-implementation of
the official trainer (yinyueqin/Relative-Preference-Optimization@c1b51639aaf93796ecf65ca74935bc4193b56592,
BasicTrainer.train / PairedPreferenceTrainer / UnpairedPreferenceTrainer / SFTTrainer;
docs/method.md §3, §5, §6, §7, §9).

Versions used to make the committed files: Python 3.11.7, torch 2.13.0+cpu, transformers 5.24.0, safetensors 0.8.0,
numpy 2.4.6.

It writes
  tiny/config.json, tiny/model.safetensors   a tiny random Llama (transformers save_pretrained, float32)
  <run>/batches.jsonl                        the run's batch records in rpo-pairs' format (docs/records.md)
  <run>/expected.json                        the run's configuration and, per optimizer step, every metric
  <run>/final.safetensors                    the policy's weights after the run (HF names, float32)
for the runs dpo (gradient accumulation 2, two contrast groups per batch), rpo-paired (embedding weights, two groups),
rpo-unpaired (interleaved items, two groups) and sft (AdamW), 5 optimizer steps each.

The loop is upstream's, single process, with the per-device micro-batches ("ranks") of FSDP emulated: each batch
record's `groups` are the ranks' slices; each group's loss is the official loss on its slice
(`concatenated_forward` with padding to the longest sequence, `get_batch_logps`, the loss functions of
make_loss_fixtures.py), `(loss / (groups * gradient_accumulation)).backward()` (FSDP averages gradients over ranks),
then every `gradient_accumulation` batches `clip_grad_norm_(max_norm)`, `optimizer.step()`, `scheduler.step()` with
LambdaLR(min(1, (k+1)/(warmup+1))), `zero_grad()`. Metrics are upstream's per-example lists (accuracies per group
before the gather: the flipped paired accuracy), averaged over everything of the step. The deliberate difference
from upstream is the dtype: policy and reference run in float64 (upstream bf16; docs/method.md §4), so the Swift
port's differences are its own fp32 rounding. The reference model is a frozen copy of the initial weights.

  python3 scripts/make_train_fixtures.py
"""
import json
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "train")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_loss_fixtures as L  # noqa: E402  (the official loss code paths; sets float64 as the default dtype)

VOCAB = 64
CONFIG = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
              max_position_embeddings=64)
EMB_DIM = 6

RUNS = [
    dict(name="dpo", loss="dpo", layout="paired", weighting="none", batch=4, group=2, ga=2, steps=5,
         optimizer="rmsprop", lr=1e-3, warmup=2, max_grad_norm=0.7, beta=0.1),
    dict(name="rpo-paired", loss="rpo-paired", layout="paired", weighting="embedding", tau=0.5, batch=6, group=3,
         ga=1, steps=5, optimizer="rmsprop", lr=2e-3, warmup=3, max_grad_norm=0.3, beta=0.1),
    dict(name="rpo-unpaired", loss="rpo-unpaired", layout="unpaired", weighting="embedding", tau=0.5, batch=8,
         group=4, ga=1, steps=5, optimizer="rmsprop", lr=2e-3, warmup=1, max_grad_norm=0.5, beta=0.1),
    dict(name="sft", loss="sft", layout="sft", weighting="none", batch=4, group=4, ga=1, steps=5,
         optimizer="adamw", lr=3e-3, warmup=0, max_grad_norm=15.0, weight_decay=0.01),
]


def f32(x):
    """The shortest decimal that rounds back to the same float32 (as rpo-pairs stores weights)."""
    v = float(str(np.float32(x)))
    assert np.float32(v) == np.float32(x)
    return v


# ---- data: token pairs and prompt embeddings --------------------------------------------------------------

def make_pairs(n, rng):
    pairs = []
    for p in range(n):
        prompt = [rng.randrange(3, VOCAB) for _ in range(rng.randrange(3, 8))]
        c = [rng.randrange(3, VOCAB) for _ in range(rng.randrange(2, 7))]
        r = [rng.randrange(3, VOCAB) for _ in range(rng.randrange(2, 7))]
        emb = [rng.gauss(0, 1) for _ in range(EMB_DIM)]
        pairs.append(dict(id=f"tiny:train:{p}:0", prompt_id=f"tiny:train:{p}", prompt_ids=prompt,
                          chosen_input_ids=prompt + c, chosen_label_start=len(prompt),
                          rejected_input_ids=prompt + r, rejected_label_start=len(prompt), emb=emb))
    return pairs


def item(pair, side):
    return dict(id=f"{pair['prompt_id']}:0:{side}", prompt_id=pair["prompt_id"], status=side,
                input_ids=pair[f"{side}_input_ids"], label_start=pair[f"{side}_label_start"], emb=pair["emb"])


def weights_for(chosen_embs, rejected_embs, tau):
    w = L.contrast_weights(torch.tensor(chosen_embs), torch.tensor(rejected_embs), tau)
    return [[f32(x) for x in row] for row in w.tolist()]


def batch_record(run, step, elements):
    """An rpo-pairs batch record: groups are contiguous slices of `group` elements."""
    b, g = run["batch"], run["group"]
    groups = [list(range(s, s + g)) for s in range(0, b, g)]
    rec = {"step": step, "epoch": 0, "layout": run["layout"], "weighting": run["weighting"]}
    if run["weighting"] == "embedding":
        rec["tau"] = run["tau"]
    rec.update({"batch_size": b, "micro_batch": g, "groups": groups})
    if run["weighting"] == "embedding":
        mats = []
        for grp in groups:
            els = [elements[k] for k in grp]
            if run["layout"] == "paired":
                embs = [e["emb"] for e in els]
                mats.append(weights_for(embs, embs, run["tau"]))
            else:
                mats.append(weights_for([e["emb"] for e in els if e["status"] == "chosen"],
                                        [e["emb"] for e in els if e["status"] == "rejected"], run["tau"]))
        rec["weights"] = mats
    rec["examples"] = [{k: v for k, v in e.items() if k != "emb"} for e in elements]
    return rec


def make_batches(run, rng):
    n_batches = run["steps"] * run["ga"]
    b = run["batch"]
    if run["layout"] == "paired":
        pairs = make_pairs(n_batches * b, rng)
        return [batch_record(run, s, pairs[s * b:(s + 1) * b]) for s in range(n_batches)]
    if run["layout"] == "sft":
        pairs = make_pairs(n_batches * b, rng)
        items = [dict(item(p, "chosen"), sft_target=True) for p in pairs]
        return [batch_record(run, s, items[s * b:(s + 1) * b]) for s in range(n_batches)]
    # unpaired: pairs split into items, shuffled, batches filled c, r, c, r from two queues (SimpleKTODataLoader)
    pairs = make_pairs(n_batches * b // 2 + 4, rng)
    items = [item(p, "chosen") for p in pairs] + [item(p, "rejected") for p in pairs]
    rng.shuffle(items)
    cq = [x for x in items if x["status"] == "chosen"]
    rq = [x for x in items if x["status"] == "rejected"]
    out = []
    for s in range(n_batches):
        els = []
        for _ in range(b // 2):
            els += [cq.pop(0), rq.pop(0)]
        out.append(batch_record(run, s, els))
    return out


# ---- the official forward and trainer ---------------------------------------------------------------------

def get_batch_logps(logits, labels):
    """utils.get_batch_logps (average_log_prob=False), docs/method.md §3."""
    labels = labels[:, 1:].clone()
    logits = logits[:, :-1, :]
    loss_mask = labels != -100
    labels[labels == -100] = 0
    per_token = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    return (per_token * loss_mask).sum(-1)


def padded_logps(model, seqs):
    """concatenated_forward: right-pad to the longest (input ids and mask with 0, labels with -100)."""
    n, width = len(seqs), max(len(ids) for ids, _ in seqs)
    ids = torch.zeros(n, width, dtype=torch.long)
    mask = torch.zeros(n, width, dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    for i, (s, ls) in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
        labels[i, ls:len(s)] = torch.tensor(s[ls:])
    return get_batch_logps(model(input_ids=ids, attention_mask=mask).logits, labels)


def group_loss(run, rec, g, policy, reference):
    """One rank's `get_batch_metrics`: (loss tensor, per-example metric lists)."""
    exs = [rec["examples"][k] for k in rec["groups"][g]]
    beta, m = run.get("beta", 0.1), {}
    if run["layout"] == "paired":
        seqs = [(e["chosen_input_ids"], e["chosen_label_start"]) for e in exs] + \
               [(e["rejected_input_ids"], e["rejected_label_start"]) for e in exs]
        b = len(exs)
        lp = padded_logps(policy, seqs)
        with torch.no_grad():
            rlp = padded_logps(reference, seqs)
        pc, pr, rc, rr = lp[:b], lp[b:], rlp[:b], rlp[b:]
        if run["loss"] == "dpo":
            losses = L.dpo(pc, pr, rc, rr, beta)
        elif run["loss"] == "rpo-paired":
            w = torch.tensor(rec["weights"][g]) if run["weighting"] == "embedding" else None
            losses = L.rpo_cross(pc, pr, rc, rr, w, beta)
        else:
            raise ValueError(run["loss"])
        cr, rj = (beta * (pc - rc)).detach(), (beta * (pr - rr)).detach()
        m["rewards_train/chosen"] = cr.tolist()
        m["rewards_train/rejected"] = rj.tolist()
        m["rewards_train/accuracies"] = (cr > rj.flip(dims=[0])).double().tolist()  # trainers.py:693-694
        m["rewards_train/accuracies_elementwise"] = (cr > rj).double().tolist()
        m["rewards_train/margins"] = (cr - rj).tolist()
        m["logps_train/rejected"] = pr.detach().tolist()
        m["logps_train/chosen"] = pc.detach().tolist()
    elif run["layout"] == "unpaired":
        seqs = [(e["input_ids"], e["label_start"]) for e in exs]
        lp = padded_logps(policy, seqs)
        with torch.no_grad():
            rlp = padded_logps(reference, seqs)
        ci = [i for i, e in enumerate(exs) if e["status"] == "chosen"]
        ri = [i for i, e in enumerate(exs) if e["status"] == "rejected"]
        pc, pr, rc, rr = lp[ci], lp[ri], rlp[ci], rlp[ri]
        w = torch.tensor(rec["weights"][g]) if run["weighting"] == "embedding" else None
        losses = L.rpo_cross(pc, pr, rc, rr, w, beta)
        cr, rj = (beta * (pc - rc)).detach(), (beta * (pr - rr)).detach()
        m["rewards_train/chosen"] = cr.tolist()
        m["rewards_train/rejected"] = rj.tolist()
        m["rewards_train/accuracies"] = (cr > rj).double().tolist()  # trainers.py:618-624
        m["rewards_train/margins"] = (cr - rj).tolist()
        m["logps_train/rejected"] = pr.detach().tolist()
        m["logps_train/chosen"] = pc.detach().tolist()
    else:  # sft
        lp = padded_logps(policy, [(e["input_ids"], e["label_start"]) for e in exs])
        losses = L.sft(lp)
        m["logps_train/chosen"] = lp.detach().tolist()
    m["loss/train"] = losses.detach().tolist()
    return losses.mean(), m


def train(run, batches, init_dir):
    from transformers import AutoModelForCausalLM
    policy = AutoModelForCausalLM.from_pretrained(init_dir, dtype=torch.float32, attn_implementation="eager").double()
    reference = AutoModelForCausalLM.from_pretrained(init_dir, dtype=torch.float32, attn_implementation="eager").double()
    policy.train()
    reference.eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    params = [p for p in policy.parameters()]
    if run["optimizer"] == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=run["lr"])
    else:
        opt = torch.optim.AdamW(params, lr=run["lr"], weight_decay=run["weight_decay"])
    warmup = run["warmup"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda k: min(1.0, (k + 1) / (warmup + 1)))
    steps, acc, lists, examples, updates = [], 0, {}, 0, 0
    for rec in batches:
        groups = len(rec["groups"])
        for g in range(groups):
            loss, m = group_loss(run, rec, g, policy, reference)
            (loss / (groups * run["ga"])).backward()
            for k, v in m.items():
                lists.setdefault(k, []).extend(v)
        acc += 1
        examples += rec["batch_size"]
        if acc == run["ga"]:
            lr = opt.param_groups[0]["lr"]
            norm = torch.nn.utils.clip_grad_norm_(params, run["max_grad_norm"]).item()
            opt.step()
            sched.step()
            opt.zero_grad()
            acc = 0
            updates += 1
            metrics = {k: float(np.mean(v)) for k, v in lists.items()}
            metrics.update({"grad_norm": norm, "lr": lr, "counters/examples": examples, "counters/updates": updates})
            steps.append(metrics)
            lists = {}
            print(f"{run['name']} step {updates}: loss {metrics['loss/train']:.6f} grad_norm {norm:.4f}"
                  f"{' (clipped)' if norm > run['max_grad_norm'] else ''}", file=sys.stderr)
    final = {}
    saved = set(__import__("safetensors").safe_open(os.path.join(init_dir, "model.safetensors"), "pt").keys())
    for n, p in policy.named_parameters():
        assert n in saved, n
        final[n] = p.detach().float().contiguous()
    return steps, final


def main():
    from transformers import AutoConfig, AutoModelForCausalLM
    torch.manual_seed(20240223)
    cfg = AutoConfig.for_model("llama", **CONFIG)
    cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = None
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").float()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.ndim == 1:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if "norm" in n else 0.0))
            else:
                p.copy_(torch.randn_like(p) * 0.08)
    tiny = os.path.join(OUT, "tiny")
    os.makedirs(tiny, exist_ok=True)
    model.save_pretrained(tiny)
    if os.path.exists(os.path.join(tiny, "generation_config.json")):
        os.remove(os.path.join(tiny, "generation_config.json"))
    for k, run in enumerate(RUNS):
        rng = random.Random(1000 + k)
        batches = make_batches(run, rng)
        d = os.path.join(OUT, run["name"])
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "batches.jsonl"), "w") as f:
            for rec in batches:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        steps, final = train(run, batches, tiny)
        save_file(final, os.path.join(d, "final.safetensors"), metadata={"format": "pt"})
        config = {k: v for k, v in run.items() if k not in ("name",)}
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump({"generator": "scripts/make_train_fixtures.py",
                       "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                                    "python": sys.version.split()[0]},
                       "config": config, "steps": steps}, f, indent=1)


if __name__ == "__main__":
    main()
