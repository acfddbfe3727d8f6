#!/usr/bin/env python3
"""Reference optimizer trajectories for the Swift optimizer tests (Tests/Fixtures/optim/torch_optim.json).

Three fp32 parameter tensors of different shapes (flattened in order into one buffer on the Swift side) take
10 steps of seeded random gradients through torch.optim with the official pipeline of trainers.py:
`clip_grad_norm_(params, max_norm)` → `optimizer.step()` → `scheduler.step()` with
`LambdaLR(lambda k: min(1, (k + 1) / (warmup + 1)))`. Runs: RMSprop (torch defaults alpha 0.99, eps 1e-8),
RMSprop with weight decay, AdamW (defaults, weight decay 0.01) and AdamW without weight decay. Recorded per step:
the gradients fed in, the pre-clip norm returned by clip_grad_norm_, the clipped gradients, the learning rate used,
and the parameters and optimizer state (square_avg, or exp_avg and exp_avg_sq) after the step. fp32 values are written as their shortest round-trip decimal (parse as Double, then round to Float).

Versions used to produce the committed fixture: Python 3.11.7, torch 2.13.0+cpu, numpy 2.4.6.
Usage: python3 scripts/make_optim_fixtures.py > Tests/Fixtures/optim/torch_optim.json
"""
import json
import sys

import numpy as np
import torch

SHAPES = [(5, 7), (11,), (2, 3, 4)]
STEPS = 10


def f32(x):
    """The shortest decimal that rounds back to the same fp32 value (keeps the fixture small), checked."""
    v = float(str(np.float32(x)))
    assert np.float32(v) == np.float32(x)
    return v


def flat(tensors):
    return [f32(x) for t in tensors for x in t.detach().reshape(-1).tolist()]


def trajectory(name, make_opt, lr, warmup, max_norm, grad_scales, seed):
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(*s, generator=g, dtype=torch.float32)) for s in SHAPES]
    init = flat(params)
    opt = make_opt(params, lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda k: min(1.0, (k + 1) / (warmup + 1)))
    steps = []
    for k in range(STEPS):
        grads = [torch.randn(*s, generator=g, dtype=torch.float32) * grad_scales[k] for s in SHAPES]
        for p, gr in zip(params, grads):
            p.grad = gr.clone()
        used_lr = opt.param_groups[0]["lr"]
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm).item()
        opt.step()
        sched.step()
        state = {key: flat([opt.state[p][key] for p in params])
                 for key in ("square_avg", "exp_avg", "exp_avg_sq") if key in opt.state[params[0]]}
        steps.append({"grads": flat(grads), "norm": norm, "clipped": flat([p.grad for p in params]), "lr": used_lr,
                      "params": flat(params), "state": state})
    return {"name": name, "lr": lr, "warmup": warmup, "max_norm": max_norm, "init": init, "steps": steps}


def main():
    # Gradient scales: some steps have a global norm above max_norm (clipped), some below.
    scales = [0.3, 2.0, 0.05, 1.0, 5.0, 0.5, 0.01, 3.0, 0.8, 1.5]
    runs = [
        trajectory("rmsprop", lambda p, lr: torch.optim.RMSprop(p, lr=lr), 1e-2, 3, 10.0, scales, 1),
        trajectory("rmsprop_wd", lambda p, lr: torch.optim.RMSprop(p, lr=lr, weight_decay=0.05), 3e-3, 0, 10.0, scales, 2),
        trajectory("adamw", lambda p, lr: torch.optim.AdamW(p, lr=lr), 1e-2, 4, 10.0, scales, 3),
        trajectory("adamw_nowd", lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.0, betas=(0.8, 0.99), eps=1e-6),
                   5e-2, 0, 5.0, scales, 4),
    ]
    json.dump({"generator": "scripts/make_optim_fixtures.py",
               "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
               "shapes": [list(s) for s in SHAPES], "runs": runs}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
