#!/usr/bin/env python3
"""Reference losses, gradients and contrast matrices for the Swift loss tests (Tests/Fixtures/losses/).

Re-implements, in PyTorch float64, the loss functions of the official RPO code
(yinyueqin/Relative-Preference-Optimization @ c1b51639aaf93796ecf65ca74935bc4193b56592, trainers.py:
DPOTrainer, IPOTrainer, CDPOTrainer, SLiCTrainer, RPOTrainer, RPOUnpairedTrainer, RPODiagonalTrainer,
KTOTrainer, SimpleKTOTrainer, KTOZeroTrainer, SFTTrainer) operation for operation, then records, on seeded
random inputs, the per-example losses, their mean and the autograd gradient of the mean w.r.t. every policy
sequence log-prob. The only deliberate difference from upstream is the dtype: upstream runs in bf16, this in
float64 (docs/method.md §4 recommends fp32 or better); the Swift port computes in Double.

Versions used to produce the committed fixture: Python 3.11.7, torch 2.13.0+cpu, numpy 2.4.6.
Usage: python3 scripts/make_loss_fixtures.py > Tests/Fixtures/losses/torch_losses.json
"""
import json
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
G = torch.Generator().manual_seed(20240223)


# ---- the official loss functions, as trainers.py computes them (float64 here) ----------------------------

def dpo(pc, pr, rc, rr, beta):
    logits = (pc - pr) - (rc - rr)
    return -F.logsigmoid(beta * logits)


def ipo(pc, pr, rc, rr, beta):
    logits = (pc - pr) - (rc - rr)
    return (logits - 1 / (2 * beta)) ** 2


def cdpo(pc, pr, rc, rr, beta, eps):
    fwd = -F.logsigmoid(beta * ((pc - rc) - (pr - rr)))
    rev = -F.logsigmoid(beta * ((pr - rr) - (pc - rc)))
    return (1 - eps) * fwd + eps * rev


def slic(pc, pr, beta, lam):
    return torch.clamp(beta - pc + pr, min=0) + lam * (-pc)


def sft(p):
    return -p


def contrast_weights(chosen_emb, rejected_emb, tau):
    """RPOTrainer / RPOUnpairedTrainer: F.normalize, cosine distance, softmax over dim=1."""
    nc = F.normalize(chosen_emb, p=2, dim=1)
    nr = F.normalize(rejected_emb, p=2, dim=1)
    cos_distance = 1 - torch.mm(nc, nr.t())
    return F.softmax(-cos_distance / tau, dim=1)


def rpo_cross(pc, pr, rc, rr, weights, beta):
    logits = (pc - rc).view(-1, 1) - (pr - rr).view(1, -1)
    if weights is None:
        weights = torch.ones_like(logits)
    weighted = logits * weights
    return -F.logsigmoid(beta * weighted).mean(-1)


def rpo_diagonal(pc, pr, rc, rr, beta, alpha):
    logits = (pc.view(-1, 1) - pr.view(1, -1)) - (rc.view(-1, 1) - rr.view(1, -1))
    all_losses = -F.logsigmoid(beta * logits)
    diag = all_losses.diag()
    mask = ~torch.eye(*logits.shape, dtype=torch.bool)
    off = all_losses[mask].view(logits.size(0), -1).mean(dim=1)
    return alpha * diag + (1 - alpha) * off


def kto(pc, pr, pk, rc, rr, rk, beta, wd, wu):
    kl = (pk - rk).mean().detach().clamp(min=0)
    parts = []
    if pc.shape[0] != 0:
        parts.append(wd * (1 - torch.sigmoid(beta * ((pc - rc) - kl))))
    if pr.shape[0] != 0:
        parts.append(wu * (1 - torch.sigmoid(beta * (kl - (pr - rr)))))
    return torch.cat(parts, 0), kl


def kto_simple(pc, pr, rc, rr, beta):
    chosen_kl = (pc - rc).mean().clamp(min=0)
    rejected_kl = (pr - rr).mean().clamp(min=0)
    return torch.cat((1 - torch.sigmoid(beta * ((pc - rc) - rejected_kl)),
                      1 - torch.sigmoid(beta * (chosen_kl - (pr - rr)))), 0)


def kto_zero(pc, pr, rc, rr, beta):
    return torch.cat((1 - torch.sigmoid(beta * ((pc - rc) - 0)),
                      1 - torch.sigmoid(beta * (0 - (pr - rr)))), 0)


# ---- random inputs -----------------------------------------------------------------------------------------

def logps(n, lo=-300.0, hi=-5.0):
    return lo + (hi - lo) * torch.rand(n, generator=G)


def near(x, spread):
    """Reference log-probs within ±spread of the policy's, so that β·z spans the sigmoid's interesting range."""
    return x + spread * (2 * torch.rand(x.shape[0], generator=G) - 1)


def emb(n, d):
    return torch.randn(n, d, generator=G)


def tolist(t):
    return [float(x) for x in t.reshape(-1).tolist()]


def run(loss_name, params, pc, pr, rc=None, rr=None, extra=None):
    """Evaluates one case, returning inputs, outputs and autograd gradients of losses.mean()."""
    pc = pc.clone().requires_grad_(True)
    pr = pr.clone().requires_grad_(True) if pr is not None else None
    beta = params.get("beta")
    case = {"loss": loss_name, "params": params, "inputs": {"pc": tolist(pc.detach())}}
    if pr is not None:
        case["inputs"]["pr"] = tolist(pr.detach())
    if rc is not None:
        case["inputs"]["rc"] = tolist(rc)
        case["inputs"]["rr"] = tolist(rr)
    kl = None
    weights = None
    if loss_name == "sft":
        losses = sft(pc)
    elif loss_name == "dpo":
        losses = dpo(pc, pr, rc, rr, beta)
    elif loss_name == "ipo":
        losses = ipo(pc, pr, rc, rr, beta)
    elif loss_name == "cdpo":
        losses = cdpo(pc, pr, rc, rr, beta, params["epsilon"])
    elif loss_name == "slic":
        losses = slic(pc, pr, beta, params["lambda"])
    elif loss_name in ("rpo-paired", "rpo-unpaired"):
        if extra.get("chosen_emb") is not None:
            weights = contrast_weights(extra["chosen_emb"], extra["rejected_emb"], params["tau"])
            case["inputs"]["chosen_emb"] = [tolist(r) for r in extra["chosen_emb"]]
            case["inputs"]["rejected_emb"] = [tolist(r) for r in extra["rejected_emb"]]
            case["weights"] = [tolist(r) for r in weights]
        else:
            case["weights"] = None
        losses = rpo_cross(pc, pr, rc, rr, weights, beta)
    elif loss_name == "rpo-diagonal":
        losses = rpo_diagonal(pc, pr, rc, rr, beta, params["diagonal_weight"])
    elif loss_name == "kto":
        pk, rk = extra["pk"], extra["rk"]
        case["inputs"]["pk"] = tolist(pk)
        case["inputs"]["rk"] = tolist(rk)
        losses, kl = kto(pc, pr, pk, rc, rr, rk, beta, params["desirable_weight"], params["undesirable_weight"])
    elif loss_name == "kto-simple":
        losses = kto_simple(pc, pr, rc, rr, beta)
    elif loss_name == "kto-zero":
        losses = kto_zero(pc, pr, rc, rr, beta)
    else:
        raise ValueError(loss_name)
    loss = losses.mean()
    loss.backward()
    out = {"loss": float(loss.detach()), "losses": tolist(losses.detach()), "d_pc": tolist(pc.grad)}
    if pr is not None:
        out["d_pr"] = tolist(pr.grad) if pr.grad is not None else [0.0] * pr.shape[0]
    if kl is not None:
        out["kl"] = float(kl)
    case["expected"] = out
    return case


def main():
    cases = []
    # Paired baselines over batch sizes 1..8, with reference spreads from tiny to large (β·z well past ±10).
    for b, spread in [(1, 3.0), (2, 30.0), (3, 8.0), (5, 60.0), (8, 15.0), (8, 150.0)]:
        pc, pr = logps(b), logps(b)
        rc, rr = near(pc, spread), near(pr, spread)
        cases.append(run("dpo", {"beta": 0.1}, pc, pr, rc, rr))
        cases.append(run("ipo", {"beta": 0.1}, pc, pr, rc, rr))
        cases.append(run("cdpo", {"beta": 0.1, "epsilon": 0.2}, pc, pr, rc, rr))
        cases.append(run("slic", {"beta": 1.0, "lambda": 0.1}, pc, near(pc, 4.0)))
        cases.append(run("sft", {}, pc, None))
        if b >= 2:
            cases.append(run("rpo-diagonal", {"beta": 0.1, "diagonal_weight": 0.8}, pc, pr, rc, rr))
            cases.append(run("rpo-diagonal", {"beta": 0.5, "diagonal_weight": 0.3}, pc, pr, rc, rr))
        # RPO paired: embedding weights (small and the MiniLM dimension) and the uniform path.
        e = emb(b, 16)
        cases.append(run("rpo-paired", {"beta": 0.1, "tau": 0.5}, pc, pr, rc, rr, {"chosen_emb": e, "rejected_emb": e}))
        cases.append(run("rpo-paired", {"beta": 0.1, "tau": 0.25}, pc, pr, rc, rr, {"chosen_emb": e, "rejected_emb": e}))
        cases.append(run("rpo-paired", {"beta": 0.1}, pc, pr, rc, rr, {"chosen_emb": None}))
    # One micro-batch of the paper's shape: 8 pairs, 384-dim embeddings, τ = 0.75.
    pc, pr = logps(8), logps(8)
    e = emb(8, 384)
    cases.append(run("rpo-paired", {"beta": 0.1, "tau": 0.75}, pc, pr, near(pc, 20.0), near(pr, 20.0),
                     {"chosen_emb": e, "rejected_emb": e}))
    # SLiC exactly on the hinge (h = 0): torch's clamp passes the gradient there.
    cases.append(run("slic", {"beta": 1.0, "lambda": 0.1}, torch.tensor([-10.0, -20.0]), torch.tensor([-11.0, -25.0])))
    # Unpaired: rectangular Nc × Nr, embeddings of all items split by status as upstream.
    for nc, nr, spread in [(1, 1, 5.0), (4, 4, 20.0), (3, 5, 40.0), (6, 2, 100.0)]:
        pc, pr = logps(nc), logps(nr)
        rc, rr = near(pc, spread), near(pr, spread)
        ec, er = emb(nc, 24), emb(nr, 24)
        cases.append(run("rpo-unpaired", {"beta": 0.1, "tau": 0.5}, pc, pr, rc, rr, {"chosen_emb": ec, "rejected_emb": er}))
        cases.append(run("rpo-unpaired", {"beta": 0.1}, pc, pr, rc, rr, {"chosen_emb": None}))
        cases.append(run("kto-simple", {"beta": 0.1}, pc, pr, rc, rr))
        cases.append(run("kto-zero", {"beta": 0.1}, pc, pr, rc, rr))
        m = nc + nr
        pk = logps(m)
        rk = near(pk, spread) - 0.5 * spread  # a positive KL estimate
        cases.append(run("kto", {"beta": 0.1, "desirable_weight": 1.0, "undesirable_weight": 1.0}, pc, pr, rc, rr,
                         {"pk": pk, "rk": rk}))
        cases.append(run("kto", {"beta": 0.1, "desirable_weight": 1.33, "undesirable_weight": 0.75}, pc, pr, rc, rr,
                         {"pk": pk, "rk": pk + 1.0}))  # negative mean → KL clamped to 0
    # At initialisation (policy = reference): kto-simple's clamps sit exactly at 0 and pass their gradient.
    pc, pr = logps(3), logps(3)
    cases.append(run("kto-simple", {"beta": 0.1}, pc, pr, pc.clone(), pr.clone()))
    json.dump({"generator": "scripts/make_loss_fixtures.py",
               "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
               "upstream": "yinyueqin/Relative-Preference-Optimization@c1b51639aaf93796ecf65ca74935bc4193b56592 trainers.py",
               "cases": cases}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
