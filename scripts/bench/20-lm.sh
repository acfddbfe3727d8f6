#!/usr/bin/env bash
# Causal LM throughput: rpo (rpo-bench lm) next to PyTorch eager + transformers (scripts/bench/lm_torch.py)
# on the same shapes, 2 threads, fp32, random weights: training steps (forward + backward of
# L = sum_n c_n logprob_n) and forward-only log-probs, for SmolLM2-135M and GPT-2-124M at 4x256 and 8x512
# tokens (half of each sequence scored). Prints tokens/s, peak RSS, rpo's model-FLOP rate against the
# sgemm rate measured in the same process (the better of rpo's panels and OpenBLAS's own threads), and the
# speed ratio. Each measurement is a separate
# process (peak RSS per configuration); rpo and PyTorch alternate so a machine-load change hits both.
# LM_BENCH_QUICK=1 runs only the 4x256 shapes with one timed step.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/rpo-bench
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 RPO_THREADS=2
[ -x "$BIN" ] || { echo "20-lm: $BIN missing (make build)" >&2; exit 1; }
have_torch=1
python3 -c "import torch, transformers" 2>/dev/null || { have_torch=0; echo "20-lm: PyTorch/transformers not installed: rpo numbers only" >&2; }
steps=2; sizes="4x256 8x512"
if [ "${LM_BENCH_QUICK:-0}" = 1 ]; then steps=1; sizes="4x256"; fi
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ''))" "$1" "$2"; }
printf '%-13s %-6s %-8s %12s %12s %7s %10s %10s %8s %8s %10s\n' shape size mode rpo_tok/s torch_tok/s ratio rpo_MB torch_MB gflops util cpu_ratio
status=0
for shape in smollm2-135m gpt2-124m; do
  for size in $sizes; do
    b=${size%x*}; s=${size#*x}
    for mode in train forward; do
      flag=""; [ $mode = forward ] && flag="--forward-only"
      r=$($BIN lm --shape $shape --batch $b --seq $s --steps $steps $flag) || { status=1; continue; }
      t=""
      if [ $have_torch = 1 ]; then
        t=$(python3 scripts/bench/lm_torch.py --shape $shape --batch $b --seq $s --steps $steps $flag 2>/dev/null | tail -1)
      fi
      rt=$(field "$r" tokens_per_s); rm=$(field "$r" peak_rss_mb)
      tt=$( [ -n "$t" ] && field "$t" tokens_per_s || echo -); tm=$( [ -n "$t" ] && field "$t" peak_rss_mb || echo -)
      ratio=$( [ -n "$t" ] && python3 -c "print(f'{$rt/$tt:.2f}x')" || echo -)
      cratio=$( [ -n "$t" ] && python3 -c "print(f'{$(field "$t" cpu_s_per_step)/$(field "$r" cpu_s_per_step):.2f}x')" || echo -)
      printf '%-13s %-6s %-8s %12s %12s %7s %10s %10s %8s %8s %10s\n' $shape $size $mode "$rt" "$tt" "$ratio" "$rm" "$tm" \
        "$(field "$r" model_gflops)/$(field "$r" sgemm_gflops)" "$(field "$r" utilisation)/$(field "$r" cpu_utilisation)" "$cratio"
    done
  done
done
echo "(gflops = rpo model GFLOP/s / best sgemm GFLOP/s in the same process; util = their ratio per wall second / per CPU second;" \
     "cpu_ratio = PyTorch CPU seconds per step / rpo's. On a loaded machine compare within a line only.)"
exit $status
