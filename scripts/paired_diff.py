#!/usr/bin/env python3
# Paired difference of two models' held-out preference measures on the same test pairs, from the per-pair
# records `rpo-train eval -o` writes (heldout.pairs.zst): accuracy (margin > 0, ties 1/2) in points and mean
# implicit-reward margin, each with a 95% percentile-bootstrap interval over pairs (the same resampled pairs for
# both models). Used in docs/results.md for the seed-2 runs, which the report does not compare against dpo.
# Python 3.11 standard library and the zstd CLI only.
#   scripts/paired_diff.py BASELINE.pairs.zst OTHER.pairs.zst [--resamples 10000] [--seed 0]
import argparse, json, random, subprocess, sys

def load(path):
    text = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout.decode()
    return {r["id"]: r for r in map(json.loads, text.splitlines())}

def correct(r):
    return 1.0 if r["margin"] > 0 else 0.5 if r["margin"] == 0 else 0.0

ap = argparse.ArgumentParser()
ap.add_argument("baseline"); ap.add_argument("other")
ap.add_argument("--resamples", type=int, default=10000); ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
base, other = load(a.baseline), load(a.other)
if sorted(base) != sorted(other):
    sys.exit("paired_diff: the two files do not hold the same pairs")
ids = sorted(base)
n = len(ids)
acc = [correct(other[i]) - correct(base[i]) for i in ids]
mar = [other[i]["margin"] - base[i]["margin"] for i in ids]
rng = random.Random(a.seed)
ra, rm = [], []
for _ in range(a.resamples):
    idx = [rng.randrange(n) for _ in range(n)]
    ra.append(sum(acc[k] for k in idx) / n); rm.append(sum(mar[k] for k in idx) / n)
ra.sort(); rm.sort()
lo, hi = int(0.025 * a.resamples), int(0.975 * a.resamples) - 1
print(f"pairs {n}: accuracy {100*sum(acc)/n:+.1f} points [{100*ra[lo]:+.1f}, {100*ra[hi]:+.1f}]; "
      f"margin {sum(mar)/n:+.4f} [{rm[lo]:+.4f}, {rm[hi]:+.4f}]")
