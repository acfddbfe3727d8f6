#!/usr/bin/env bash
# make bench: every benchmark in scripts/bench/, each printing throughput next to the reference
# implementation (Python / PyTorch) measured in the same run. Benchmarks need the Python reference stack
# (pip install -r scripts/requirements.txt); those that cannot find it say so and skip the comparison.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for b in scripts/bench/*.sh; do
  [ -e "$b" ] || continue
  echo "== $(basename "$b" .sh)"
  bash "$b" || status=1
done
exit $status
