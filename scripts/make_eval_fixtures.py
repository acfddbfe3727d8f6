#!/usr/bin/env python3
"""Reference numbers for the evaluation tests (Tests/Fixtures/eval/reference.json).

1. heldout: the official trainers' eval metrics (loss/eval, rewards_eval/*, logps_eval/*; trainers.py:618-624 and
   693-709 with mode='eval') of the first batch record of the tiny training fixtures (Tests/Fixtures/train/{dpo,
   rpo-paired,rpo-unpaired}/batches.jsonl: their groups and contrast matrices), for seeded policy and reference
   log-probs, computed with the loss functions of scripts/make_loss_fixtures.py (PyTorch float64), the per-example
   lists of all groups concatenated and averaged as upstream's logging does.
2. pairs: rpo-train eval's per-pair quantities and summary for seeded log-probs: means of accuracy (ties half),
   margin and log-prob changes, and their percentile-bootstrap 95% intervals drawn with rpo's RNG (the Xoshiro class
   of scripts/make_judge_fixtures.py: the same resample indices), percentiles by numpy.percentile; and the paired
   comparison of two such evaluations.
3. bradley_terry: the L2-penalised Bradley-Terry (logistic) fit of rpo-judge fit-reward on seeded differences,
   solved by scipy-free Newton iterations in float64 until the step is below 1e-14, with the loss and gradient at a
   second point.

Versions used to produce the committed fixture: Python 3.11.7, torch 2.13.0+cpu, numpy 2.4.6.
Usage: python3 scripts/make_eval_fixtures.py > Tests/Fixtures/eval/reference.json
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_loss_fixtures import contrast_weights, dpo, rpo_cross  # noqa: E402  (the official loss functions)
from make_judge_fixtures import Xoshiro  # noqa: E402  (rpo's RNG)

torch.set_default_dtype(torch.float64)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BETA = 0.1
G = torch.Generator().manual_seed(20261205)


def first_batch(run):
    with open(os.path.join(ROOT, "Tests/Fixtures/train", run, "batches.jsonl")) as f:
        return json.loads(f.readline())


def heldout_case(run, loss):
    """Seeded log-probs per example, the batch's groups and weights, and the eval metric means."""
    b = first_batch(run)
    ex = b["examples"]
    lists = {}

    def add(name, values):
        lists.setdefault(name, []).extend(float(v) for v in values)

    if loss in ("dpo", "rpo-paired"):
        n = len(ex)
        pc = -40 - 60 * torch.rand(n, generator=G)
        pr = -40 - 60 * torch.rand(n, generator=G)
        rc = pc + 8 * (torch.rand(n, generator=G) - 0.5)
        rr = pr + 8 * (torch.rand(n, generator=G) - 0.5)
        for gi, g in enumerate(b["groups"]):
            idx = torch.tensor(g)
            c, r, qc, qr = pc[idx], pr[idx], rc[idx], rr[idx]
            if loss == "dpo":
                losses = dpo(c, r, qc, qr, BETA)
            else:
                w = torch.tensor(b["weights"][gi]) if b.get("weights") else None
                losses = rpo_cross(c, r, qc, qr, w, BETA)
            cr, rj = BETA * (c - qc), BETA * (r - qr)
            B = len(g)
            add("rewards_eval/chosen", cr)
            add("rewards_eval/rejected", rj)
            add("rewards_eval/accuracies", [float(cr[i] > rj[B - 1 - i]) for i in range(B)])  # upstream's flip
            add("rewards_eval/accuracies_elementwise", [float(cr[i] > rj[i]) for i in range(B)])
            add("rewards_eval/margins", cr - rj)
            add("logps_eval/rejected", r)
            add("logps_eval/chosen", c)
            add("loss/eval", losses)
        logps = {"policy_chosen": pc.tolist(), "policy_rejected": pr.tolist(),
                 "reference_chosen": rc.tolist(), "reference_rejected": rr.tolist()}
    else:  # rpo-unpaired: items with a status; per group the chosen items against the rejected ones
        n = len(ex)
        p = -40 - 60 * torch.rand(n, generator=G)
        q = p + 8 * (torch.rand(n, generator=G) - 0.5)
        for gi, g in enumerate(b["groups"]):
            ci = [k for k in g if ex[k]["status"] == "chosen"]
            ri = [k for k in g if ex[k]["status"] == "rejected"]
            c, r = p[torch.tensor(ci)], p[torch.tensor(ri)]
            qc, qr = q[torch.tensor(ci)], q[torch.tensor(ri)]
            w = torch.tensor(b["weights"][gi])
            losses = rpo_cross(c, r, qc, qr, w, BETA)
            cr, rj = BETA * (c - qc), BETA * (r - qr)
            add("rewards_eval/chosen", cr)
            add("rewards_eval/rejected", rj)
            if len(ci) == len(ri):
                add("rewards_eval/accuracies", [float(cr[i] > rj[i]) for i in range(len(ci))])
                add("rewards_eval/margins", cr - rj)
            add("logps_eval/rejected", r)
            add("logps_eval/chosen", c)
            add("loss/eval", losses)
        logps = {"policy": p.tolist(), "reference": q.tolist()}
    return {"run": run, "loss": loss, "beta": BETA, "logps": logps,
            "means": {k: sum(v) / len(v) for k, v in lists.items()}}


def boot(columns, resamples, seed):
    n = len(columns[0])
    rng = Xoshiro(seed)
    draws = [[] for _ in columns]
    cols = [np.array(c, dtype=np.float64) for c in columns]
    for _ in range(resamples):
        idx = [rng.below(n) for _ in range(n)]
        for k, c in enumerate(cols):
            draws[k].append(float(np.sum(c[idx])) / n)  # the sum in draw order, then / n
    return [{"mean": float(np.sum(c)) / n, "lower": float(np.percentile(d, 2.5)), "upper": float(np.percentile(d, 97.5))}
            for c, d in zip(cols, draws)]


def pairs_case():
    n, resamples, seed = 37, 2000, 7
    rs = np.random.default_rng(11)
    pc = -20 - 80 * rs.random(n)
    pr = -20 - 80 * rs.random(n)
    rc = pc + rs.normal(0, 3, n)
    rr = pr + rs.normal(0, 3, n)
    rc[3], rr[3] = pc[3], pr[3]  # an exact tie: counts 1/2
    other_pc = pc + rs.normal(0.5, 2, n)
    other_pr = pr + rs.normal(-0.5, 2, n)

    def cols(pc, pr):
        dc, dr = pc - rc, pr - rr
        c, r = BETA * dc, BETA * dr
        correct = np.where(c > r, 1.0, np.where(c < r, 0.0, 0.5))
        return [correct, c - r, dc, dr]

    base, other = cols(pc, pr), cols(other_pc, other_pr)
    return {"beta": BETA, "resamples": resamples, "seed": seed,
            "reference_chosen": rc.tolist(), "reference_rejected": rr.tolist(),
            "base": {"policy_chosen": pc.tolist(), "policy_rejected": pr.tolist(),
                     "summary": dict(zip(["accuracy", "margin", "chosen_logp_change", "rejected_logp_change"],
                                         boot(base, resamples, seed)))},
            "other": {"policy_chosen": other_pc.tolist(), "policy_rejected": other_pr.tolist()},
            "comparison": dict(zip(["accuracy_difference", "margin_difference", "chosen_logp_change_difference",
                                    "rejected_logp_change_difference"],
                                   boot([o - b for o, b in zip(other, base)], resamples, seed)))}


def bt_loss(w, x, l2):
    z = x @ w
    return float(np.mean(np.logaddexp(0.0, -z)) + 0.5 * l2 * w @ w)


def bt_grad(w, x, l2):
    z = x @ w
    return (-(x.T @ (1.0 / (1.0 + np.exp(z)))) / len(z) + l2 * w)


def bradley_terry_case():
    n, d, l2 = 60, 6, 0.05
    rs = np.random.default_rng(3)
    truth = rs.normal(0, 1, d)
    x = rs.normal(0, 1, (n, d))
    flip = rs.random(n) > 1 / (1 + np.exp(-x @ truth))
    x[flip] *= -1  # labels drawn from the model: rows oriented chosen - rejected
    w = np.zeros(d)
    for _ in range(100):
        z = x @ w
        p = 1 / (1 + np.exp(-z))
        h = (x * (p * (1 - p))[:, None]).T @ x / n + l2 * np.eye(d)
        step = np.linalg.solve(h, bt_grad(w, x, l2))
        w -= step
        if np.max(np.abs(step)) < 1e-14:
            break
    probe = rs.normal(0, 0.5, d)
    z = x @ w
    acc = float(np.mean(np.where(z > 0, 1.0, np.where(z < 0, 0.0, 0.5))))
    return {"n": n, "d": d, "l2": l2, "x": x.ravel().tolist(), "weights": w.tolist(), "loss_at_optimum": bt_loss(w, x, l2),
            "accuracy": acc, "probe": probe.tolist(), "loss_at_probe": bt_loss(probe, x, l2),
            "gradient_at_probe": bt_grad(probe, x, l2).tolist()}


def main():
    out = {"heldout": [heldout_case("dpo", "dpo"), heldout_case("rpo-paired", "rpo-paired"),
                       heldout_case("rpo-unpaired", "rpo-unpaired")],
           "pairs": pairs_case(), "bradley_terry": bradley_terry_case()}
    json.dump(out, sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
